/* The dashboard's supervisor panels: the tickets at risk (GET /api/at-risk, every 5 s), the QA queue with a
 * score form per ticket (GET /api/qa, POST /api/qa/{id}/score) and the QA scores per agent and week
 * (GET /api/qa/agents). Starts once the dashboard is signed in. */
"use strict";

(() => {
  const { api, change, h, clear, light, time } = Desk;
  const holder = document.getElementById("oversight");
  const els = {};
  let started = false;

  function layout() {
    els.atRisk = h("ul", { class: "at-risk-list", "data-testid": "dashboard-at-risk" });
    els.qa = h("div", { class: "qa-queue", "data-testid": "qa-queue" });
    els.report = h("div", { class: "qa-report", "data-testid": "qa-report" });
    clear(holder).append(
      h("section", { class: "chart" }, h("h3", {}, "At risk"), els.atRisk),
      h("section", { class: "chart" }, h("h3", {}, "QA queue"), els.qa),
      h("section", { class: "chart" }, h("h3", {}, "QA scores per agent (by week)"), els.report),
    );
  }

  async function loadAtRisk() {
    if (document.hidden) return;
    try {
      const items = await api("GET", "/api/at-risk");
      clear(els.atRisk);
      if (!items.length) els.atRisk.appendChild(h("li", { class: "muted" }, "Nothing at risk."));
      items.forEach((t) => els.atRisk.appendChild(h("li", { dataset: { ticketId: t.id, light: t.sla } },
        h("a", { href: "/console#" + encodeURIComponent(t.id) }, light(t.sla, "SLA"), " ", t.id), " · grade ", t.grade,
        " · ", t.assignee ? "→ " + t.assignee : "queued (" + t.skill + ")")));
    } catch (err) {
      /* tried again in 5 s */
    }
  }

  function scoreForm(item, criteria, scale) {
    const selects = criteria.map((name) => h("label", {}, name + " ",
      h("select", { name }, Array.from({ length: scale }, (_, i) => h("option", { value: String(i + 1) }, String(i + 1))))));
    const comment = h("input", { name: "comment", placeholder: "comment (optional)" });
    const error = h("span", { class: "error", hidden: true });
    const form = h("form", { class: "qa-form", dataset: { ticketId: item.ticket } }, selects, comment,
      h("button", { type: "submit" }, "Score"), error);
    form.onsubmit = async (event) => {
      event.preventDefault();
      const scores = {};
      form.querySelectorAll("select").forEach((s) => { scores[s.name] = Number(s.value); });
      const body = { scores };
      if (comment.value.trim()) body.comment = comment.value.trim();
      try {
        await change("/api/qa/" + encodeURIComponent(item.ticket) + "/score", body);
        loadQa();
      } catch (err) {
        error.textContent = err.message;
        error.hidden = false;
      }
    };
    return form;
  }

  async function loadQa() {
    try {
      const [queue, report] = await Promise.all([api("GET", "/api/qa"), api("GET", "/api/qa/agents?period=week")]);
      clear(els.qa);
      if (!queue.items.length) els.qa.appendChild(h("p", { class: "muted" }, "Nothing to review."));
      queue.items.forEach((item) => els.qa.appendChild(h("div", { class: "qa-item", dataset: { ticketId: item.ticket } },
        h("div", {}, h("a", { href: "/console#" + encodeURIComponent(item.ticket) }, item.ticket), " · ", item.agent || "–",
          " · ", item.reason === "low_rating" ? "rated " + item.rating : "sampled", " · closed ", time(item.closed_at)),
        scoreForm(item, queue.criteria, queue.scale))));
      clear(els.report);
      const criteria = report.criteria;
      els.report.appendChild(h("table", { class: "intents" },
        h("thead", {}, h("tr", {}, h("th", {}, "agent"), h("th", {}, "week"), h("th", {}, "n"), h("th", {}, "average"),
          criteria.map((c) => h("th", {}, c)))),
        h("tbody", {}, report.agents.flatMap((a) => a.periods.map((p) => h("tr", {},
          h("td", {}, a.agent || "–"), h("td", {}, p.period), h("td", {}, String(p.count)), h("td", {}, p.average.toFixed(2)),
          criteria.map((c) => h("td", {}, p.criteria[c].toFixed(1)))))))));
    } catch (err) {
      /* shown on the next load */
    }
  }

  function start() {
    if (started || !Desk.token()) return;
    started = true;
    layout();
    loadAtRisk();
    loadQa();
    setInterval(loadAtRisk, 5000);
    setInterval(loadQa, 60000);
  }

  setInterval(start, 1000);
  start();
})();
