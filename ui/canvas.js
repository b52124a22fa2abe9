// A drawing canvas over an n x n grid of binary pixels (white ink on black, what the digits
// model sees). After each stroke it sends the whole grid as a string of '0'/'1', row-major.
export default function (component) {
  const { data, parentElement, setTriggerValue } = component;
  const canvas = parentElement.querySelector("canvas");
  const clear = parentElement.querySelector("button");
  const n = data.grid;
  const size = data.size;
  const radius = data.brush;

  // The function runs again whenever the page reruns: keep the drawing between runs.
  let state = canvas.latentCanvas;
  if (!state || state.n !== n) {
    state = { n, ink: new Uint8Array(n * n), down: false, last: null };
    canvas.latentCanvas = state;
  }
  canvas.width = size;
  canvas.height = size;
  canvas.style.width = size + "px";
  canvas.style.height = size + "px";
  const context = canvas.getContext("2d");

  function paint() {
    const cell = size / n;
    context.fillStyle = "#000";
    context.fillRect(0, 0, size, size);
    context.fillStyle = "#fff";
    for (let r = 0; r < n; r++) {
      for (let c = 0; c < n; c++) {
        if (state.ink[r * n + c]) context.fillRect(c * cell, r * cell, cell + 0.5, cell + 0.5);
      }
    }
  }

  function cellAt(event) {
    const box = canvas.getBoundingClientRect();
    return [((event.clientX - box.left) / box.width) * n,
            ((event.clientY - box.top) / box.height) * n];
  }

  function stamp(x, y) {
    const r = Math.ceil(radius);
    for (let row = Math.floor(y) - r; row <= Math.floor(y) + r; row++) {
      for (let col = Math.floor(x) - r; col <= Math.floor(x) + r; col++) {
        if (row < 0 || col < 0 || row >= n || col >= n) continue;
        const dx = col + 0.5 - x, dy = row + 0.5 - y;
        if (dx * dx + dy * dy <= radius * radius) state.ink[row * n + col] = 1;
      }
    }
  }

  function line(from, to) {
    const steps = Math.max(1, Math.ceil(Math.hypot(to[0] - from[0], to[1] - from[1]) * 2));
    for (let i = 0; i <= steps; i++) {
      const t = i / steps;
      stamp(from[0] + (to[0] - from[0]) * t, from[1] + (to[1] - from[1]) * t);
    }
    paint();
  }

  function send() {
    setTriggerValue("drawing", Array.from(state.ink).join(""));
  }

  canvas.onpointerdown = (event) => {
    event.preventDefault();
    canvas.setPointerCapture(event.pointerId);
    state.down = true;
    state.last = cellAt(event);
    line(state.last, state.last);
  };
  canvas.onpointermove = (event) => {
    if (!state.down) return;
    const here = cellAt(event);
    line(state.last, here);
    state.last = here;
  };
  canvas.onpointerup = canvas.onpointercancel = () => {
    if (!state.down) return;
    state.down = false;
    send();
  };
  clear.onclick = () => {
    state.ink.fill(0);
    paint();
    send();
  };
  paint();
}
