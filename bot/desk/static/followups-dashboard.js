/* The dashboard's "Overdue follow-ups" section: open follow-ups past their due time (GET /api/followups),
 * kept apart from dashboard.js (its own container, its own refresh). */
"use strict";

(() => {
  const { api, h, clear, time } = Desk;
  const section = document.getElementById("followups-overdue");
  const REFRESH_MS = 30000;
  if (!section) return;

  async function refresh() {
    if (document.hidden || !Desk.token()) return;
    let items;
    try {
      items = await api("GET", "/api/followups?status=open&overdue=1&limit=20");
    } catch (err) {
      return; // signed out or the desk away: dashboard.js says so
    }
    clear(section).append(
      h("h3", {}, "Overdue follow-ups ", h("span", { class: "muted", "data-testid": "overdue-count" }, String(items.length))),
      items.length
        ? h("ul", { class: "bars" }, items.map((f) => h("li", { "data-testid": "overdue-followup", dataset: { followupId: f.id } },
          h("span", { class: "bar-name" }, f.id + " · " + f.ticket),
          h("span", {}, (f.owner || "anyone") + " · due " + time(f.due_at) + " · " + (f.contact.by === "phone" ? "phone" : f.contact.channel)))))
        : h("p", { class: "muted" }, "None."),
      h("p", {}, h("a", { href: "/followups" }, "All follow-ups")));
  }

  refresh();
  setInterval(refresh, REFRESH_MS);
  document.addEventListener("visibilitychange", () => { if (!document.hidden) refresh(); });
})();
