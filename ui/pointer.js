// Shared by the page's own components: ui/beta_slider.py and ui/latent_pad.py put it in front
// of their scripts.

function element(tag, attributes = {}, text = "") {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  node.textContent = text;  // a label is never HTML
  return node;
}

// A drag on `surface`: `place` follows the pointer while it is down, `release` runs once when
// it is let go. `state.down` lives with the component's state, so a redraw mid-drag keeps it;
// `start` may refuse a drag by returning false.
function wireDrag(surface, state, place, release, start = () => true) {
  surface.onpointerdown = (event) => {
    if (start() === false) return;
    event.preventDefault();
    surface.setPointerCapture(event.pointerId);
    state.down = true;
    place(event);
  };
  surface.onpointermove = (event) => { if (state.down) place(event); };
  surface.onpointerup = surface.onpointercancel = () => {
    if (!state.down) return;
    state.down = false;
    release();
  };
}
