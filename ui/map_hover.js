// The picture of the test image under the pointer on the Map's plotly chart, drawn here from
// one sprite sheet (ui/map_hover.py): a hover costs no server round trip, and a click still
// goes to plotly and Streamlit untouched, since the box never takes the pointer.
//
// Plotly charts render in the main document, so the chart is found there by its key's class.
// Streamlit draws a new chart div whenever the figure changes (a click, another colouring or
// projection), and plotly drops a div's listeners when it sets the div up again: a light poll
// re-attaches whenever the div or its emitter is new (plotly binds a new `on` with each).

const POLL_MS = 300;
const GAP = 14;  // px between the dot and the box, so the dot stays visible

function teardown(root) {
  const live = root.mapHover;
  if (!live) return;
  clearInterval(live.timer);
  if (live.graph && live.graph.removeListener) {
    live.graph.removeListener("plotly_hover", live.onHover);
    live.graph.removeListener("plotly_unhover", live.onUnhover);
  }
  root.mapHover = null;
}

export default function (component) {
  const { data, parentElement } = component;
  const box = parentElement.querySelector(".map-hover");
  const canvas = box.querySelector("canvas");
  const caption = box.querySelector("p");
  const [th, tw] = data.tile;
  const scale = Math.max(1, Math.round(data.size / Math.max(th, tw)));
  if (canvas.width !== tw * scale || canvas.height !== th * scale) {
    canvas.width = tw * scale;  // which clears it: only when the size changes
    canvas.height = th * scale;
  }
  canvas.dataset.scale = String(scale);  // for tests that read the picture back

  // The sheet is served as a file: a hidden image of the page (st.image) carries its URL, so
  // the server holds no text copy of it. It is decoded once per model, not on every rerun.
  function load() {
    if (box.sheet && box.sheet.key === data.sheet_key) return;
    const source = document.querySelector(`.st-key-${data.sheet} img`);
    const url = source && source.getAttribute("src");
    if (!url) return;  // not drawn yet: the poll below asks again
    const image = new Image();
    image.onload = () => { if (box.pending != null) draw(box.pending); };
    image.src = url;
    box.sheet = { key: data.sheet_key, image };
  }
  load();

  function draw(index) {
    const image = box.sheet && box.sheet.key === data.sheet_key ? box.sheet.image : null;
    box.pending = image && image.complete && image.naturalWidth ? null : index;
    if (box.pending != null) return;
    const context = canvas.getContext("2d");
    context.imageSmoothingEnabled = false;  // crisp pixels, as the page's other images
    const row = Math.floor(index / data.columns), col = index % data.columns;
    context.clearRect(0, 0, canvas.width, canvas.height);
    context.drawImage(image, col * tw, row * th, tw, th, 0, 0, canvas.width, canvas.height);
  }

  function place(graph, point, event) {
    // Beside the dot itself (also when the hover comes from Plotly.Fx, with no mouse event).
    const frame = graph.getBoundingClientRect();
    let x = frame.left + point.xaxis._offset + point.xaxis.l2p(point.x);
    let y = frame.top + point.yaxis._offset + point.yaxis.l2p(point.y);
    if (!Number.isFinite(x + y) && event) [x, y] = [event.clientX, event.clientY];
    const width = box.offsetWidth, height = box.offsetHeight;
    // Above the dot: plotly's own label sits at its side, with the number and class.
    let top = y - GAP - height;
    if (top < 4) top = y + GAP;
    const left = Math.min(Math.max(4, x - width / 2), window.innerWidth - width - 4);
    box.style.left = `${left}px`;
    box.style.top = `${top}px`;
  }

  function show(graph, event) {
    const point = (event.points || []).find((p) => p.customdata != null);
    if (!point) return;
    const index = Number(Array.isArray(point.customdata) ? point.customdata[0] : point.customdata);
    if (!Number.isInteger(index) || index < 0) return;
    draw(index);
    const label = data.labels ? data.class_names[data.labels[index]] : undefined;
    // As text, never HTML: class names may come from a user's files.
    caption.textContent = label === undefined ? `#${index}` : `#${index} · ${label}`;
    box.dataset.index = String(index);
    box.hidden = false;
    place(graph, point, event.event);
  }

  function hide() {
    box.hidden = true;
    delete box.dataset.index;
  }

  teardown(parentElement);
  const live = { graph: null, on: null, timer: 0, onHover: null, onUnhover: hide };
  parentElement.mapHover = live;
  function attach() {
    load();
    const graph = document.querySelector(`.st-key-${data.chart} .js-plotly-plot`);
    if (!graph || typeof graph.on !== "function") return;
    if (graph === live.graph && graph.on === live.on) return;
    if (live.graph && live.graph.removeListener) {
      live.graph.removeListener("plotly_hover", live.onHover);
      live.graph.removeListener("plotly_unhover", live.onUnhover);
    }
    hide();
    live.graph = graph;
    live.on = graph.on;
    live.onHover = (event) => show(graph, event);
    graph.on("plotly_hover", live.onHover);
    graph.on("plotly_unhover", live.onUnhover);
  }
  attach();
  live.timer = setInterval(attach, POLL_MS);
  return () => { teardown(parentElement); hide(); };
}
