// The latent pad: sliders, a 2-D pad and the decoded picture, decoded here in the page on
// every pointer move from the payload of vae/decoder_payload.py, so the picture follows the
// hand at display rate. On release the code goes back to Python ("code"), which keeps the
// URL, the traversals and the other panels in step.
//
// Decoders are kept per model for the life of the tab (window.__latentLab), so the weights
// cross the network once: Python sends them only with the first run that shows a model, and
// a pad that finds none asks for them again ("missing").

const lab = (window.__latentLab ??= { decoders: new Map(), timings: [], work: [] });
// The page's float output, before the 8-bit canvas: what tests compare with torch.
lab.decode = (model, z, label) => Array.from(lab.decoders.get(model).run(z, label));

function floats(base64) {
  const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
  return new Float32Array(bytes.buffer);  // little-endian, as every browser platform is
}

const ACTIVATIONS = {
  relu: (v) => (v > 0 ? v : 0),
  tanh: Math.tanh,
  elu: (v) => (v > 0 ? v : Math.expm1(v)),
};

function linear(layer, w, x) {
  const out = new Float64Array(layer.out);
  for (let o = 0; o < layer.out; o++) {
    let sum = w[layer.bias + o];
    const row = layer.weight + o * layer.in;
    for (let i = 0; i < layer.in; i++) sum += w[row + i] * x[i];
    out[o] = sum;
  }
  return out;
}

// torch's ConvTranspose2d with a 4x4 kernel, stride 2, padding 1: each input pixel adds its
// kernel, scaled, to the output at (2 * iy - 1 + ky, 2 * ix - 1 + kx).
function deconv(layer, w, x) {
  const [hin, win] = layer.in_size;
  const [hout, wout] = layer.out_size;
  const plane = hout * wout;
  const out = new Float64Array(layer.out * plane);
  for (let co = 0; co < layer.out; co++) out.fill(w[layer.bias + co], co * plane, (co + 1) * plane);
  for (let ci = 0; ci < layer.in; ci++) {
    for (let iy = 0; iy < hin; iy++) {
      for (let ix = 0; ix < win; ix++) {
        const v = x[(ci * hin + iy) * win + ix];
        if (v === 0) continue;  // after a ReLU most inputs are
        for (let co = 0; co < layer.out; co++) {
          const kernel = layer.weight + (ci * layer.out + co) * 16;
          const base = co * plane;
          for (let ky = 0; ky < 4; ky++) {
            const oy = 2 * iy - 1 + ky;
            if (oy < 0 || oy >= hout) continue;
            for (let kx = 0; kx < 4; kx++) {
              const ox = 2 * ix - 1 + kx;
              if (ox < 0 || ox >= wout) continue;
              out[base + oy * wout + ox] += v * w[kernel + ky * 4 + kx];
            }
          }
        }
      }
    }
  }
  return out;
}

// Every layer is checked against the buffer and the shapes before the first decode, and one
// decode of z = 0 must come out finite: a payload this code cannot run is reported ("error")
// and the page falls back to the server, never a silently wrong picture.
function compile(payload) {
  if (payload.format !== 1) throw new Error(`unknown decoder format ${payload.format}`);
  const w = floats(payload.weights);
  const k = payload.num_classes;
  const fits = (offset, n) => Number.isInteger(offset) && offset >= 0 && offset + n <= w.length;
  let size = payload.latent_dim + k;
  for (const layer of payload.layers) {
    if (layer.op === "linear") {
      if (layer.in !== size || !fits(layer.weight, layer.in * layer.out) ||
          !fits(layer.bias, layer.out)) throw new Error("a linear layer does not fit");
      size = layer.out;
    } else if (layer.op === "deconv") {
      const [hin, win] = layer.in_size, [hout, wout] = layer.out_size;
      if (layer.in * hin * win !== size || !fits(layer.weight, layer.in * layer.out * 16) ||
          !fits(layer.bias, layer.out)) throw new Error("a transposed convolution does not fit");
      size = layer.out * hout * wout;
    } else if (!ACTIVATIONS[layer.op]) {
      throw new Error(`unknown layer ${layer.op}`);
    }
  }
  const [channels, h, width] = payload.image_shape;
  if (size !== channels * h * width) throw new Error("the output is not the image's size");
  const run = (z, label) => {
    if (k && !(Number.isInteger(label) && label >= 0 && label < k)) {
      throw new Error(`class ${label} is not one of the model's ${k}`);
    }
    let x = new Float64Array(payload.latent_dim + k);
    x.set(z);
    if (k) x[payload.latent_dim + label] = 1;
    for (const layer of payload.layers) {
      if (layer.op === "linear") x = linear(layer, w, x);
      else if (layer.op === "deconv") x = deconv(layer, w, x);
      else {
        const f = ACTIVATIONS[layer.op];
        for (let i = 0; i < x.length; i++) x[i] = f(x[i]);
      }
    }
    const mean = new Float32Array(x.length);  // the mean of p(x|z): sigmoid of the logits
    for (let i = 0; i < x.length; i++) mean[i] = 1 / (1 + Math.exp(-x[i]));
    return mean;
  };
  const trial = run(new Float64Array(payload.latent_dim), k ? 0 : null);
  if (!trial.every(Number.isFinite)) throw new Error("its decoding of z = 0 is not finite");
  return { run, shape: payload.image_shape };
}

export default function (component) {
  const { data, parentElement, setStateValue, setTriggerValue } = component;
  const root = parentElement.querySelector(".latent-pad");
  const limit = data.limit;
  const d = data.dims.length;

  const fail = (error) => setTriggerValue("error", String(error.message || error));
  try {
    if (data.decoder) lab.decoders.set(data.model, compile(data.decoder));
    if (data.codes) {
      const held = lab.decoders.get(data.model);
      held.codes = floats(data.codes);
      held.posteriors = data.posteriors;  // a 2-D model's rings (ui/scatter.py), else null
    }
  } catch (error) {
    fail(error);
    return;
  }
  const decoder = lab.decoders.get(data.model);
  if (!decoder) {
    setTriggerValue("missing", data.model);
    return;
  }

  let state = root.latentPad;
  const incoming = JSON.stringify([data.z, data.label]);
  const fresh = !state || state.model !== data.model || state.key !== data.layout_key;
  if (fresh) {
    state = {
      model: data.model, key: data.layout_key, z: Float32Array.from(data.z),
      label: data.label, pad: data.pad.slice(), down: false, incoming, sent: data.ack,
    };
    root.latentPad = state;
  } else if (state.incoming !== incoming && !state.down && data.ack >= state.sent) {
    // Moved from Python (a button, an encoded picture, the URL): follow it. A run that has
    // not yet seen this page's last release carries an older code: keep the hand's.
    state.incoming = incoming;
    state.z = Float32Array.from(data.z);
    state.label = data.label;
  }
  let parts = root.latentParts;
  try {
    if (fresh) {
      build();
      parts = root.latentParts;
    }
    syncControls();
    drawPad();
    drawPicture();
  } catch (error) {
    fail(error);
    return;
  }
  root.dataset.ready = data.model;

  function build() {
    root.replaceChildren();
    root.style.setProperty("--pad-size", `${data.pad_size}px`);
    root.classList.toggle("present", data.present);  // the projector's larger type
    const controls = element("div", { class: "lp-controls" });
    const parts = { sliders: [], values: [] };
    if (data.class_names) {
      const label = element("label", { class: "lp-class" }, "Class (the decoder's condition c) ");
      parts.classSelect = element("select", { "aria-label": "Class" });
      data.class_names.forEach((name, c) => parts.classSelect.append(element("option", { value: c }, name)));
      parts.classSelect.onchange = () => {
        state.label = Number(parts.classSelect.value);
        drawPicture();
        send();
      };
      label.append(parts.classSelect);
      controls.append(label);
    }
    const list = element("div", { class: "lp-sliders" });
    const more = [];
    data.dims.forEach((dim, rank) => {
      const row = element("div", { class: "lp-slider" });
      const name = element("span", { class: "lp-name" },
        `${dim.name} · KL ${dim.kl.toFixed(2)} nats${dim.unused ? " · unused" : ""}`);
      const value = element("span", { class: "lp-value" });
      const input = element("input", {
        type: "range", min: -limit, max: limit, step: 0.01, "aria-label": dim.name,
      });
      input.oninput = (event) => {
        state.z[dim.j] = Number(input.value);
        value.textContent = state.z[dim.j].toFixed(2);
        moved(event);
      };
      input.onchange = send;
      parts.sliders[dim.j] = input;
      parts.values[dim.j] = value;
      row.append(name, value, input);
      list.append(row);
      if (rank >= data.shown) {
        row.hidden = true;
        more.push(row);
      }
    });
    controls.append(list);
    if (more.length) {
      const toggle = element("label", { class: "lp-more" });
      const box = element("input", { type: "checkbox" });
      box.onchange = () => more.forEach((row) => { row.hidden = !box.checked; });
      toggle.append(box, ` Show ${more.length} more dimensions (${data.hidden_unused} unused)`);
      controls.append(toggle);
    }

    const plane = element("div", { class: "lp-plane" });
    const axes = element("div", { class: "lp-axes" });
    parts.axisSelects = [0, 1].map((axis) => {
      const select = element("select", { "aria-label": axis ? "Vertical axis" : "Horizontal axis" });
      data.dims.forEach((dim) => select.append(element("option", { value: dim.j }, dim.name)));
      select.value = state.pad[axis];
      select.onchange = () => {
        const other = 1 - axis;
        // One dimension on both axes would pull the point off the diagonal: swap instead.
        if (Number(select.value) === state.pad[other]) {
          state.pad[other] = state.pad[axis];
          parts.axisSelects[other].value = state.pad[other];
        }
        state.pad[axis] = Number(select.value);
        state.background = null;
        drawPad();
      };
      axes.append(axis ? " up: " : "Pad moves ", select, axis ? "" : " across,");
      return select;
    });
    parts.pad = element("canvas", { class: "lp-pad", "aria-label": "Latent pad: drag to move two dimensions" });
    parts.pad.width = parts.pad.height = data.pad_size;
    const caption = element("p", { class: "lp-caption" },
      "Drag the point. Grey dots: test images' codes, where the data lives." +
      (decoder.posteriors ? ` ${decoder.posteriors.caption}` : ""));
    plane.append(axes, parts.pad, caption);
    if (decoder.posteriors) plane.append(ringLegend(decoder.posteriors.rows));

    const picture = element("div", { class: "lp-picture" });
    parts.image = element("canvas", { class: "lp-image", "aria-label": "Decoded picture" });
    const [channels, h, w] = decoder.shape;
    const scale = Math.max(1, Math.round(data.image_size / w));
    parts.image.width = w * scale;
    parts.image.height = h * scale;
    parts.offscreen = new OffscreenCanvas(w, h);
    parts.pixels = new ImageData(w, h);
    parts.channels = channels;
    picture.append(element("h3", {}, "Decoded"), parts.image);

    controls.append(plane);
    root.append(controls, picture);
    root.latentParts = parts;
    wirePad(parts.pad);
  }

  function ringLegend(rows) {
    const legend = element("ul", { class: "lp-rings", "aria-label": "Rings" });
    for (const ring of rows) {
      const item = element("li", {}, ring.name);
      item.prepend(element("span", { class: "lp-ring", style: `border-color: ${ring.colour}` }));
      legend.append(item);
    }
    return legend;
  }

  function syncControls() {
    for (const dim of data.dims) {
      parts.sliders[dim.j].value = state.z[dim.j];
      parts.values[dim.j].textContent = state.z[dim.j].toFixed(2);
    }
    if (parts.classSelect) parts.classSelect.value = state.label;
  }

  function toPad(v) { return ((v + limit) / (2 * limit)) * data.pad_size; }

  function drawPad() {
    const context = parts.pad.getContext("2d");
    const size = data.pad_size;
    const [a, b] = state.pad;
    if (!state.background) {
      const background = new OffscreenCanvas(size, size);
      const bg = background.getContext("2d");
      bg.fillStyle = "rgba(128, 128, 128, 0.08)";
      bg.fillRect(0, 0, size, size);
      bg.strokeStyle = "rgba(128, 128, 128, 0.5)";
      bg.beginPath();
      bg.moveTo(size / 2, 0); bg.lineTo(size / 2, size);
      bg.moveTo(0, size / 2); bg.lineTo(size, size / 2);
      bg.stroke();
      const codes = decoder.codes;
      if (codes) {
        bg.fillStyle = "rgba(110, 110, 110, 0.35)";
        for (let i = 0; i + d <= codes.length; i += d) {
          bg.fillRect(toPad(codes[i + a]) - 1, size - toPad(codes[i + b]) - 1, 2, 2);
        }
      }
      if (decoder.posteriors) drawRings(bg, decoder.posteriors.rows, a, b);
      state.background = background;
    }
    context.clearRect(0, 0, size, size);
    context.drawImage(state.background, 0, 0);
    const x = toPad(state.z[a]), y = size - toPad(state.z[b]);
    context.strokeStyle = "#e03131";
    context.lineWidth = 3;
    context.beginPath();
    context.arc(x, y, 7, 0, 2 * Math.PI);
    context.moveTo(x - 11, y); context.lineTo(x + 11, y);
    context.moveTo(x, y - 11); context.lineTo(x, y + 11);
    context.stroke();
  }

  // Each test image's q(z|x) as the ellipse mean ± sd on the pad's two axes (axis-aligned: the
  // encoder's Gaussian is diagonal), tinted, with a dot at its centre, so one that has shrunk
  // to a point is still seen.
  function drawRings(context, rows, a, b) {
    const scale = data.pad_size / (2 * limit);
    context.lineWidth = 2;
    for (const ring of rows) {
      const x = toPad(ring.mean[a]), y = data.pad_size - toPad(ring.mean[b]);
      context.strokeStyle = context.fillStyle = ring.colour;
      context.globalAlpha = 0.15;
      context.beginPath();
      context.ellipse(x, y, Math.max(ring.sd[a] * scale, 1), Math.max(ring.sd[b] * scale, 1),
        0, 0, 2 * Math.PI);
      context.fill();
      context.globalAlpha = 0.9;
      context.stroke();
      context.beginPath();
      context.arc(x, y, 2.5, 0, 2 * Math.PI);
      context.fill();
    }
    context.globalAlpha = 1;
  }

  function drawPicture() {
    const mean = decoder.run(state.z, state.label);
    const { pixels, channels } = parts;
    const plane = pixels.width * pixels.height;
    for (let p = 0; p < plane; p++) {
      for (let c = 0; c < 3; c++) {
        const v = mean[(channels === 3 ? c : 0) * plane + p];
        pixels.data[4 * p + c] = Math.floor(Math.min(Math.max(v, 0), 1) * 255 + 0.5);
      }
      pixels.data[4 * p + 3] = 255;
    }
    parts.offscreen.getContext("2d").putImageData(pixels, 0, 0);
    const context = parts.image.getContext("2d");
    context.imageSmoothingEnabled = false;
    context.drawImage(parts.offscreen, 0, 0, parts.image.width, parts.image.height);
  }

  // Decode and draw inside the input event: the time from the event to the drawn picture is
  // what the hand feels; the time spent here is the part this code owns. Both are read by
  // benchmarks/ui_latency.py.
  function moved(event) {
    const start = performance.now();
    drawPad();
    drawPicture();
    const end = performance.now();
    lab.timings.push(end - event.timeStamp);
    lab.work.push(end - start);
    if (lab.timings.length > 10000) {
      lab.timings.splice(0, 5000);
      lab.work.splice(0, 5000);
    }
  }

  function wirePad(pad) {
    const place = (event) => {
      const box = pad.getBoundingClientRect();
      const clamp = (v) => Math.min(limit, Math.max(-limit, v));
      const [a, b] = state.pad;
      state.z[a] = clamp(((event.clientX - box.left) / box.width) * 2 * limit - limit);
      state.z[b] = clamp(limit - ((event.clientY - box.top) / box.height) * 2 * limit);
      for (const j of [a, b]) {
        parts.sliders[j].value = state.z[j];
        parts.values[j].textContent = state.z[j].toFixed(2);
      }
      moved(event);
    };
    wireDrag(pad, state, place, send);
  }

  function send() {
    // Two decimals: a shareable URL, and well below what the eye can see in the picture. The
    // count makes every release a change, also one that repeats an earlier code.
    const z = Array.from(state.z, (v) => Math.round(v * 100) / 100);
    state.z = Float32Array.from(z);
    state.incoming = JSON.stringify([z, state.label]);
    state.sent += 1;
    setStateValue("code", { z, label: state.label, n: state.sent });
  }
}
