/* Follow-ups (回访) for agents: the list of GET /api/followups (open, mine, overdue, done), a new follow-up for a
 * ticket (POST /api/followups) and the outcome of one (POST /api/followups/{id}/outcome). How to reach the
 * customer comes from the desk: on their channel while it accepts a message (WeChat: 48 h after the customer's
 * last message), with a text box that sends it (POST /api/followups/{id}/message), else by phone, with the
 * number and e-mail when the desk knows them. Sending again after a failure re-sends the same message. */
"use strict";

(() => {
  const { api, change, h, clear, time } = Desk;
  const root = document.getElementById("root");
  const meEl = document.getElementById("me");
  const logoutBtn = document.getElementById("logout");
  const FILTERS = [
    ["open", "Open", "status=open"],
    ["mine", "Mine", "status=open&mine=1"],
    ["overdue", "Overdue", "status=open&overdue=1"],
    ["done", "Done", "status=done"],
  ];
  const OUTCOMES = [["reached", "Reached"], ["not_reached", "Not reached"], ["resolved", "Resolved"], ["escalated", "Escalated"]];
  const TRIGGERS = { low_rating: "Low rating", complaint: "Complaint", vip: "VIP", manual: "Manual" };
  let filter = "open";
  let list = null;
  let status = null;

  function boot() {
    Desk.onUnauthorized(() => signedOut());
    logoutBtn.addEventListener("click", async () => {
      await Desk.logout();
      signedOut();
    });
    if (Desk.token()) start();
    else Desk.loginForm(root, start);
  }

  function signedOut() {
    meEl.textContent = "";
    logoutBtn.hidden = true;
    Desk.loginForm(root, start);
  }

  async function start() {
    try {
      const me = await api("GET", "/api/me");
      meEl.textContent = me.name;
      logoutBtn.hidden = false;
    } catch (err) {
      return;
    }
    list = h("ul", { class: "followup-list", "data-testid": "followup-list" });
    status = h("p", { class: "muted", role: "status", "data-testid": "followup-status" });
    clear(root).append(
      h("section", { class: "followups-page" },
        h("nav", { class: "filters", "data-testid": "followup-filters" },
          FILTERS.map(([key, label]) => h("button", {
            type: "button", "data-filter": key, "aria-pressed": String(key === filter),
            onclick: () => { filter = key; refresh(); },
          }, label))),
        newForm(),
        status,
        list),
    );
    await refresh();
  }

  function newForm() {
    const ticket = h("input", { name: "ticket", placeholder: "T-000123", required: true, "data-testid": "new-followup-ticket" });
    const note = h("input", { name: "note", placeholder: "Note (optional)", "data-testid": "new-followup-note" });
    const form = h("form", { class: "followup-new", "data-testid": "new-followup" },
      h("label", {}, "New follow-up for ticket "), ticket, note,
      h("button", { type: "submit" }, "Add"));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        const made = await change("/api/followups", { ticket: ticket.value.trim(), note: note.value || null });
        ticket.value = "";
        note.value = "";
        say("Follow-up " + made.id + " added.");
        await refresh();
      } catch (err) {
        say(err.message, true);
      }
    });
    return form;
  }

  function say(text, error) {
    status.textContent = text;
    status.className = error ? "error" : "muted";
  }

  async function refresh() {
    for (const button of root.querySelectorAll("[data-filter]")) {
      button.setAttribute("aria-pressed", String(button.dataset.filter === filter));
    }
    const query = FILTERS.find((f) => f[0] === filter)[2];
    let items;
    try {
      items = await api("GET", "/api/followups?" + query);
    } catch (err) {
      if (err.status !== 401) say(err.message, true);
      return;
    }
    Desk.append(clear(list), [items.length ? items.map(item) : h("li", { class: "muted" }, "No follow-ups.")]);
  }

  function contactLine(contact) {
    if (contact.by === "phone") {
      const known = [contact.phone, contact.email].filter(Boolean).join(" · ");
      return h("span", { class: "contact contact-phone", "data-testid": "contact" },
        "Contact by phone" + (known ? ": " + known : " (no number on file)") +
        (contact.channel_open_until ? " (" + contact.channel + " closed since " + time(contact.channel_open_until) + ")" : ""));
    }
    return h("span", { class: "contact contact-channel", "data-testid": "contact" },
      "On " + contact.channel + (contact.channel_open_until ? " until " + time(contact.channel_open_until) : ""));
  }

  function messageList(f) {
    if (!f.messages.length) return null;
    return h("ul", { class: "followup-messages", "data-testid": "followup-messages" },
      f.messages.map((m) => h("li", { "data-testid": "followup-message", dataset: { status: m.status } },
        h("span", { class: "muted" }, (m.sent_at ? time(m.sent_at) : time(m.at)) + " · " + m.author + " · " +
          (m.status === "sent" ? "sent" : m.status === "failed" ? "not delivered" : "sending") + ": "),
        m.text)));
  }

  function messageForm(f) {
    const text = h("textarea", { name: "text", rows: 2, placeholder: "Message on " + f.contact.channel, required: true,
      "data-testid": "followup-message-text" });
    const form = h("form", { class: "followup-message-form", "data-testid": "followup-message-form" }, text,
      h("button", { type: "submit", "data-testid": "followup-message-send" }, "Send"));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        await change("/api/followups/" + encodeURIComponent(f.id) + "/message", { text: text.value });
        say(f.id + ": message sent on " + f.contact.channel + ".");
        await refresh();
      } catch (err) {
        say(err.message, true);  // 422 a banned phrase, 502 not delivered: the text stays for another try
        if (err.status === 409) await refresh();  // the window closed meanwhile: show the phone advice
      }
    });
    return form;
  }

  function item(f) {
    return h("li", { class: "followup" + (f.overdue ? " overdue" : ""), "data-testid": "followup", dataset: { followupId: f.id, status: f.status } },
      h("div", { class: "followup-head" },
        h("strong", {}, f.id), " · ", h("span", {}, f.ticket), " · ",
        h("span", { "data-testid": "trigger" }, TRIGGERS[f.trigger] || f.trigger),
        f.rating ? h("span", { class: "muted" }, " · rated " + f.rating + "/5") : null,
        f.overdue ? h("span", { class: "badge badge-red", "data-testid": "overdue" }, "overdue") : null),
      h("div", { class: "followup-meta muted" },
        (f.customer.name || "customer") + " · owner " + (f.owner || "anyone") + " · due " + time(f.due_at)),
      contactLine(f.contact),
      f.note ? h("p", { class: "followup-note", "data-testid": "note" }, f.note) : null,
      messageList(f),
      f.status === "open" && f.contact.by === "channel" ? messageForm(f) : null,
      f.status === "open" ? outcomeForm(f) : h("p", { "data-testid": "outcome" }, "Outcome: " + f.outcome + " (" + (f.done_by || "") + ")"));
  }

  function outcomeForm(f) {
    const outcome = h("select", { name: "outcome", "data-testid": "outcome-select" },
      OUTCOMES.map(([value, label]) => h("option", { value }, label)));
    const note = h("input", { name: "note", placeholder: "Note", "data-testid": "outcome-note" });
    const form = h("form", { class: "followup-outcome" }, outcome, note,
      h("button", { type: "submit", "data-testid": "outcome-submit" }, "Record"));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        await change("/api/followups/" + encodeURIComponent(f.id) + "/outcome", { outcome: outcome.value, note: note.value || null });
        say(f.id + ": " + outcome.value + ".");
        await refresh();
      } catch (err) {
        say(err.message, true);
      }
    });
    return form;
  }

  boot();
})();
