// The Train page's β slider (ui/beta_slider.py): the value follows the hand here in the page,
// and goes to Python ("beta") once per change: when a drag is let go, or settle_ms after the
// last key press (sooner if the slider loses focus, say to a Stop button), so a β moved key
// by key is recorded as one change.

const KEYS = { ArrowRight: 1, ArrowUp: 1, ArrowLeft: -1, ArrowDown: -1, PageUp: 10, PageDown: -10 };

export default function (component) {
  const { data, parentElement, setStateValue } = component;
  const root = parentElement.querySelector(".beta-slider");
  let state = root.betaSlider;
  if (!state) {
    state = { value: data.value, asked: data.value, sent: data.ack, timer: null, down: false };
    root.betaSlider = state;
    build();
  }
  // The handlers, made once, read the newest data and sender.
  state.data = data;
  state.setStateValue = setStateValue;
  // Python has taken this page's last change (or refused it): show what it holds now, unless
  // the hand is still on the slider.
  if (data.ack >= state.sent && !state.down && state.timer === null) {
    state.value = state.asked = data.value;
  }
  root.classList.toggle("present", data.present);
  state.parts.label.textContent = data.label;
  state.parts.thumb.setAttribute("aria-label", data.label);
  state.parts.thumb.setAttribute("aria-valuemax", data.max);
  state.parts.thumb.setAttribute("aria-disabled", String(data.disabled));
  state.parts.thumb.tabIndex = data.disabled ? -1 : 0;
  root.classList.toggle("disabled", data.disabled);
  draw();

  function build() {
    const label = element("div", { class: "bs-label" });
    const track = element("div", { class: "bs-track" });
    const fill = element("div", { class: "bs-fill" });
    const value = element("div", { class: "bs-value", "aria-hidden": "true" });
    const thumb = element("div", {
      class: "bs-thumb", role: "slider", "aria-valuemin": 0, "aria-orientation": "horizontal",
    });
    const ends = element("div", { class: "bs-ends", "aria-hidden": "true" });
    ends.append(element("span", {}, "0"), element("span", { class: "bs-max" }));
    track.append(fill, value, thumb);
    root.replaceChildren(label, track, ends);
    state.parts = { label, track, fill, value, thumb, max: ends.lastChild };

    thumb.onkeydown = (event) => {
      const { max, step, disabled } = state.data;
      let next = null;
      if (event.key in KEYS) next = state.value + KEYS[event.key] * step;
      else if (event.key === "Home") next = 0;
      else if (event.key === "End") next = max;
      if (next === null || disabled) return;
      event.preventDefault();
      state.value = snap(next);
      draw();
      clearTimeout(state.timer);
      state.timer = setTimeout(send, state.data.settle_ms);
    };
    thumb.onblur = () => { if (state.timer !== null) send(); };
    wireDrag(track, state, place, send, () => {
      if (state.data.disabled) return false;
      thumb.focus();
    });
  }

  function snap(v) {
    const { max, step } = state.data;
    return Math.min(max, Math.max(0, Number((Math.round(v / step) * step).toFixed(6))));
  }

  function place(event) {
    const box = state.parts.track.getBoundingClientRect();
    state.value = snap(((event.clientX - box.left) / box.width) * state.data.max);
    draw();
  }

  function draw() {
    const { thumb, fill, value, max } = state.parts;
    const shown = state.value.toFixed(1);
    const share = `${(100 * state.value) / state.data.max}%`;
    thumb.style.left = value.style.left = fill.style.width = share;
    value.textContent = shown;
    max.textContent = `${state.data.max}`;
    thumb.setAttribute("aria-valuenow", shown);
    thumb.setAttribute("aria-valuetext", `β = ${shown}`);
  }

  function send() {
    clearTimeout(state.timer);
    state.timer = null;
    const value = Number(state.value.toFixed(1));
    if (value === state.asked) return;  // back where it was: no change to record
    state.asked = value;
    // The count makes every change a new value, also one that repeats an earlier β.
    state.sent += 1;
    state.setStateValue("beta", { value, n: state.sent });
  }
}
