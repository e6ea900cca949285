// Countdowns to the statutory deadlines (confirmation/templates/deadlines.html): each
// .countdown[data-due] inside a .deadlines list shows the time left or overdue, in the words
// the list carries (data-left-days ...), brought up to date every minute. The due time itself
// is printed by the server, so nothing depends on this running.

function format(template, params) {
  return template.replace(/\{(\w+)\}/g, (_, key) => (key in params ? params[key] : `{${key}}`));
}

function show(list, at) {
  for (const el of list.querySelectorAll(".countdown[data-due]")) {
    const ms = Date.parse(el.dataset.due) - at;
    const over = ms < 0;
    const minutes = Math.floor(Math.abs(ms) / 60000);
    const days = Math.floor(minutes / 1440);
    const hours = Math.floor((minutes % 1440) / 60);
    const params = { days, hours, minutes: minutes % 60 };
    const key = `${over ? "over" : "left"}${days > 0 ? "Days" : "Hours"}`;
    el.textContent = format(list.dataset[key] || "", params);
    const item = el.closest(".deadline");
    if (item && over && !item.classList.contains("overdue")) item.classList.add("overdue");
  }
}

export function startCountdowns(root = document) {
  const tick = () => {
    const at = Date.now();
    for (const list of root.querySelectorAll(".deadlines")) show(list, at);
  };
  tick();
  setInterval(tick, 60_000);
}
