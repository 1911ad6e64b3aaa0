/* The agent console: sign in (and change a one-time password first), live queue (pushed over /api/stream,
 * opened with a one-use stream ticket), ticket view with the context packet, reply with free text or canned
 * replies, claim / transfer / set the topic / resolve / hand back; supervisors also reassign any ticket and
 * resolve or hand back any ticket. What the desk refuses (a role, a ticket outside the agent's reach) shows as
 * its error; the tickets at risk (alerts.js) and the agent's status for auto-assignment. */
"use strict";

(() => {
  const { api, change, h, svg, clear, duration, time, light, token } = Desk;
  const root = document.getElementById("root");
  const liveEl = document.getElementById("live");
  const meEl = document.getElementById("me");
  const logoutBtn = document.getElementById("logout");

  const FILTERS = { open: "open", mine: "open", closed: "closed" };
  const PAGE_SIZE = 100;
  const state = {
    me: null,
    filter: "open",
    tickets: new Map(),
    atRisk: new Map(), // the tickets at risk (GET /api/at-risk, then the stream's events)
    pages: 0, // pages of the list shown
    next: null, // the cursor of the next page, null after the last
    current: null, // the open ticket (detail: with context and messages)
    unread: new Set(),
    canned: [],
    skills: [],
    topics: [],
    agents: [],
    stream: null, // AbortController of the running stream
    lastEventId: null, // the id of the last stream event seen: a reconnect (to any desk process) resumes after it
    timers: [],
  };
  let els = {};
  let queueReload = null;

  // ---------------------------------------------------------------- start / sign in

  function boot() {
    Desk.onUnauthorized(() => signedOut("Your session has ended. Please sign in again."));
    logoutBtn.addEventListener("click", async () => {
      await Desk.logout();
      signedOut();
    });
    if (Desk.token()) start();
    else Desk.loginForm(root, start);
  }

  function signedOut(message) {
    stopStream();
    state.timers.forEach(clearInterval);
    state.timers = [];
    state.current = null;
    state.tickets.clear();
    meEl.textContent = "";
    logoutBtn.hidden = true;
    setLive("off", "offline");
    Desk.loginForm(root, start);
    if (message) {
      const err = root.querySelector("[data-testid=login-error]");
      err.textContent = message;
      err.hidden = false;
    }
  }

  async function start() {
    try {
      state.me = await api("GET", "/api/me");
    } catch (err) {
      if (err.status !== 401) Desk.loginForm(root, start);
      return;
    }
    if (state.me.must_change_password) {
      Desk.passwordForm(root, start); // nothing else works until the one-time password is changed
      return;
    }
    if (state.me.now) Desk.setServerNow(state.me.now);
    const supervising = isSupervisor();
    document.querySelectorAll("[data-supervisor-only]").forEach((el) => { el.hidden = !supervising; });
    meEl.textContent = state.me.name + (state.me.senior ? " (senior)" : "") + " · " + state.me.role + " · " + (state.me.skills || []).join(", ");
    meEl.appendChild(statusPicker());
    logoutBtn.hidden = false;
    layout();
    syncClock();
    loadLists();
    await loadQueue();
    loadAtRisk();
    startStream();
    state.timers.push(setInterval(tick, 1000));
    state.timers.push(setInterval(() => loadQueue(), 15000));
    state.timers.push(setInterval(() => loadAtRisk(), 15000));
    state.timers.push(setInterval(syncClock, 60000));
    const wanted = decodeURIComponent(location.hash.slice(1));
    if (wanted) openTicket(wanted);
  }

  /* The agent's status: only "online" agents are offered tickets of the auto-assigned teams. */
  function statusPicker() {
    const select = h("select", { "data-testid": "status-select", title: "Your status", onchange: async () => {
      try {
        const answer = await change("/api/me/status", { status: select.value });
        state.me.status = answer.status;
      } catch (err) {
        select.value = state.me.status || "offline";
      }
    } }, ["online", "away", "offline"].map((s) => h("option", { value: s }, s)));
    select.value = state.me.status || "offline";
    return h("label", { class: "status-picker" }, " · ", select);
  }

  function isSupervisor() {
    return !!state.me && (state.me.role === "supervisor" || state.me.role === "admin");
  }

  async function syncClock() {
    try {
      const data = await api("GET", "/api/me");
      if (data && data.now) Desk.setServerNow(data.now);
    } catch (err) {
      /* countdowns fall back to the browser clock */
    }
  }

  async function loadLists() {
    const [canned, skills, agents, topics] = await Promise.allSettled([
      api("GET", "/api/canned"),
      api("GET", "/api/skills"),
      api("GET", "/api/agents"),
      api("GET", "/api/topics"),
    ]);
    state.canned = canned.status === "fulfilled" ? canned.value || [] : [];
    state.skills = skills.status === "fulfilled" ? skills.value || [] : [];
    state.agents = agents.status === "fulfilled" ? agents.value || [] : [];
    state.topics = topics.status === "fulfilled" ? topics.value || [] : [];
    if (state.current) {
      renderReplyCanned();
      renderCards();
    }
  }

  // ---------------------------------------------------------------- layout

  function layout() {
    const tabs = h(
      "div",
      { class: "tabs", role: "tablist" },
      ["open", "mine", "closed"].map((f) =>
        h("button", { type: "button", role: "tab", dataset: { filter: f }, "aria-selected": String(f === state.filter), onclick: () => setFilter(f) },
          { open: "Open", mine: "Mine", closed: "Closed" }[f]),
      ),
    );
    els.queueCount = h("span", { class: "count", "data-testid": "queue-count" }, "0");
    els.queue = h("ul", { class: "queue", id: "queue", "data-testid": "queue", "aria-live": "polite" });
    els.ticket = h("section", { class: "ticket", id: "ticket", "data-testid": "ticket" }, h("p", { class: "placeholder" }, "Select a ticket from the queue."));
    els.atRiskCount = h("span", { class: "count", "data-testid": "at-risk-count" }, "0");
    els.atRisk = h("ul", { class: "at-risk-list", "data-testid": "at-risk-list", "aria-live": "polite" });
    const atRiskPanel = h("section", { class: "at-risk-panel", "data-testid": "at-risk" },
      h("h2", {}, "At risk ", els.atRiskCount), DeskAlerts.controls(), els.atRisk);
    clear(root).appendChild(
      h("div", { class: "layout" },
        h("aside", { class: "queue-panel" }, atRiskPanel, h("h2", {}, "Queue ", els.queueCount), tabs, els.queue),
        els.ticket),
    );
  }

  function setFilter(filter) {
    state.filter = filter;
    root.querySelectorAll(".tabs button").forEach((b) => b.setAttribute("aria-selected", String(b.dataset.filter === filter)));
    state.tickets.clear();
    state.pages = 0;
    state.next = null;
    renderQueue();
    loadQueue();
  }

  function setLive(mode, text) {
    liveEl.dataset.state = mode;
    liveEl.textContent = text;
  }

  // ---------------------------------------------------------------- queue

  /* The list comes in pages (queued first by priority, so the first page holds the most urgent tickets); a
   * reload fetches as many pages as were shown, and "Load more" the next one. */
  async function loadQueue(more) {
    const filter = state.filter;
    const params = new URLSearchParams({ status: FILTERS[filter], limit: String(PAGE_SIZE) });
    if (filter === "mine") params.set("mine", "1");
    const wanted = more ? state.pages + 1 : Math.max(1, state.pages);
    const items = more ? Array.from(state.tickets.values()) : [];
    let cursor = more ? state.next : null;
    let pages = more ? state.pages : 0;
    try {
      do {
        if (cursor) params.set("cursor", cursor);
        const page = await Desk.apiPage("/api/tickets?" + params.toString());
        items.push(...page.data);
        cursor = page.next;
        pages += 1;
      } while (cursor && pages < wanted);
      if (filter !== state.filter) return;
      state.tickets = new Map(items.map((t) => [t.id, t]));
      state.pages = pages;
      state.next = cursor;
      renderQueue();
    } catch (err) {
      if (err.status !== 401) showQueueError(err.message);
    }
  }

  async function loadAtRisk() {
    try {
      const items = await api("GET", "/api/at-risk");
      state.atRisk = new Map((items || []).map((t) => [t.id, t]));
      renderAtRisk();
    } catch (err) {
      /* shown again on the next reload */
    }
  }

  function renderAtRisk() {
    if (!els.atRisk) return;
    els.atRiskCount.textContent = String(state.atRisk.size);
    DeskAlerts.renderPanel(els.atRisk, state.atRisk, openTicket);
  }

  /* A ticket changed: it stays in the at-risk list while it is open and not green. */
  function trackAtRisk(ticket) {
    const open = ticket.status === "queued" || ticket.status === "assigned";
    if (open && DeskAlerts.rank(ticket) > 0) state.atRisk.set(ticket.id, ticket);
    else if (!state.atRisk.has(ticket.id)) return;
    else state.atRisk.delete(ticket.id);
    renderAtRisk();
  }

  function scheduleQueueReload() {
    clearTimeout(queueReload);
    queueReload = setTimeout(() => loadQueue(), 250);
  }

  function belongs(ticket) {
    const open = ticket.status === "queued" || ticket.status === "assigned";
    if (state.filter === "closed") return !open;
    if (state.filter === "mine") return open && ticket.assignee === state.me.name;
    return open;
  }

  function upsertTicket(ticket) {
    const previous = state.tickets.get(ticket.id);
    if (belongs(ticket)) state.tickets.set(ticket.id, Object.assign({}, previous || {}, ticket));
    else state.tickets.delete(ticket.id);
    renderQueue();
  }

  function showQueueError(message) {
    clear(els.queue).appendChild(h("li", { class: "error" }, message));
  }

  function renderQueue() {
    if (!els.queue) return;
    const items = Array.from(state.tickets.values());
    items.sort((a, b) => {
      const risk = DeskAlerts.rank(b) - DeskAlerts.rank(a); // tickets at risk move up: red, then yellow
      if (risk) return risk;
      const qa = a.status === "queued" ? 0 : 1;
      const qb = b.status === "queued" ? 0 : 1;
      if (qa !== qb) return qa - qb;
      if (qa === 0 && a.priority !== b.priority) return (b.priority || 0) - (a.priority || 0);
      return String(a.created_at).localeCompare(String(b.created_at));
    });
    els.queueCount.textContent = String(items.length);
    clear(els.queue);
    if (!items.length) {
      els.queue.appendChild(h("li", { class: "empty" }, "No tickets."));
      return;
    }
    for (const t of items) els.queue.appendChild(queueItem(t));
    if (state.next) {
      els.queue.appendChild(h("li", { class: "more" },
        h("button", { type: "button", "data-testid": "queue-more", onclick: () => loadQueue(true) }, "Load more")));
    }
  }

  function queueItem(t) {
    const customer = t.customer || {};
    const selected = state.current && state.current.id === t.id;
    const waitingSince = Date.parse(t.created_at);
    return h(
      "li",
      { class: "queue-item" + (selected ? " selected" : "") + (t.status === "queued" ? " queued" : "") + (DeskAlerts.rank(t) ? " at-risk at-risk-" + t.sla : ""),
        dataset: { ticketId: t.id, testid: "queue-item", sla: t.sla || "" } },
      h(
        "button",
        { type: "button", onclick: () => openTicket(t.id) },
        h("div", { class: "row" },
          light(t.sla, "SLA"),
          h("strong", { class: "tid" }, t.id),
          h("span", { class: "grade grade-" + t.grade, title: "grade" }, t.grade),
          customer.tier === "vip" ? h("span", { class: "vip" }, "VIP") : null,
          state.unread.has(t.id) ? h("span", { class: "unread", "data-testid": "unread" }, "new") : null,
          t.reply_window && t.reply_window.state !== "open"
            ? h("span", { class: "reply-window-badge reply-window-" + t.reply_window.state, title: "WeChat reply window", "data-testid": "reply-window-badge" }, "window " + t.reply_window.state)
            : null,
          t.offered_to && t.offered_to === state.me.name ? h("span", { class: "unread", "data-testid": "offered" }, "offered to you") : null,
          h("span", { class: "spacer" }),
          h("span", { class: "wait", dataset: { since: String(waitingSince) }, title: "since created" }, duration((Desk.serverNow() - waitingSince) / 1000))),
        h("div", { class: "row small" },
          h("span", {}, t.reason),
          h("span", { class: "muted" }, "· " + (t.skill || "")),
          t.topic ? h("span", { class: "muted" }, "· " + t.topic) : null),
        h("div", { class: "row small" },
          h("span", { class: "status status-" + t.status }, t.status),
          t.assignee ? h("span", {}, "→ " + t.assignee) : null,
          t.position ? h("span", { class: "muted" }, "#" + t.position + " in queue") : null,
          h("span", { class: "spacer" }),
          h("span", { class: "muted" }, customer.display_name || customer.id || t.conversation_id)),
      ),
    );
  }

  // ---------------------------------------------------------------- the live stream

  function stopStream() {
    if (state.stream) state.stream.abort();
    state.stream = null;
  }

  async function startStream() {
    stopStream();
    const controller = new AbortController();
    state.stream = controller;
    let delay = 1000;
    while (state.stream === controller) {
      try {
        setLive("connecting", "connecting…");
        // A one-use stream ticket opens the stream: the sign-in token never goes in a URL (EventSource-like
        // clients can only put it there).
        const ticket = (await api("POST", "/api/stream-tickets")).ticket;
        const headers = { Accept: "text/event-stream" };
        if (state.lastEventId !== null) headers["Last-Event-ID"] = state.lastEventId;
        const response = await fetch("/api/stream?ticket=" + encodeURIComponent(ticket), { headers, signal: controller.signal });
        if (response.status === 401) {
          signedOut("Your session has ended. Please sign in again.");
          return;
        }
        if (!response.ok || !response.body) throw new Error("stream answered " + response.status);
        setLive("live", "live");
        delay = 1000;
        await loadQueue(); // whatever changed while we were not connected
        loadAtRisk();
        if (state.current) refreshCurrent();
        await readEvents(response.body.getReader(), handleEvent);
      } catch (err) {
        if (controller.signal.aborted) return;
      }
      if (state.stream !== controller) return;
      setLive("polling", "reconnecting…");
      await loadQueue();
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, 15000);
    }
  }

  async function readEvents(reader, onEvent) {
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true }).replace(/\r\n/g, "\n");
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const frame = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        let type = "message";
        const data = [];
        for (const line of frame.split("\n")) {
          if (line.startsWith(":")) continue;
          const colon = line.indexOf(":");
          const field = colon < 0 ? line : line.slice(0, colon);
          const val = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
          if (field === "event") type = val;
          else if (field === "data") data.push(val);
          else if (field === "id") state.lastEventId = val;
        }
        if (!data.length) continue;
        let payload;
        try {
          payload = JSON.parse(data.join("\n"));
        } catch (err) {
          continue;
        }
        onEvent(type, payload);
      }
    }
  }

  function handleEvent(type, data) {
    if (type === "reset") {
      // The events since we last saw one are no longer kept: reload what we show.
      loadQueue();
      if (state.current) refreshCurrent();
    } else if (type === "at_risk" && data && data.ticket) {
      upsertTicket(data.ticket);
      trackAtRisk(data.ticket);
      DeskAlerts.atRisk(state.me, data, openTicket);
    } else if (type === "offer" && data && data.ticket) {
      upsertTicket(data.ticket);
      if (data.agent === state.me.name) DeskAlerts.offer(data.ticket, openTicket);
      if (state.current && state.current.id === data.ticket.id) {
        Object.assign(state.current, data.ticket);
        renderTicketHead();
      }
    } else if (type === "escalation" && data && data.ticket) {
      DeskAlerts.escalation(state.me, data, openTicket);
    } else if (type === "ticket" && data && data.id) {
      upsertTicket(data);
      trackAtRisk(data);
      scheduleQueueReload(); // positions and claimability of the others change too
      if (state.current && state.current.id === data.id) {
        Object.assign(state.current, data);
        renderTicketHead();
        renderCards();
      }
    } else if (type === "gone" && data && data.id) {
      // The ticket left this agent's reach (reassigned, transferred away): drop it.
      lostTicket(data.id);
    } else if (type === "message" && data && data.ticket_id && data.message) {
      if (state.current && state.current.id === data.ticket_id) {
        upsertMessage(data.message);
      } else if (data.message.role === "customer") {
        state.unread.add(data.ticket_id);
        renderQueue();
      }
    }
  }

  // ---------------------------------------------------------------- the ticket view

  async function openTicket(id) {
    try {
      state.current = await api("GET", "/api/tickets/" + encodeURIComponent(id));
    } catch (err) {
      if (err.status !== 401) {
        clear(els.ticket).appendChild(h("p", { class: "error", role: "alert", "data-testid": "ticket-error" }, err.message));
      }
      return;
    }
    state.unread.delete(id);
    history.replaceState(null, "", "#" + encodeURIComponent(id));
    renderTicket();
    renderQueue();
  }

  async function refreshCurrent() {
    if (!state.current) return;
    const id = state.current.id;
    try {
      const fresh = await api("GET", "/api/tickets/" + encodeURIComponent(id));
      if (state.current && state.current.id === fresh.id) {
        state.current = fresh;
        renderTicketHead();
        renderCards();
        renderConversation();
      }
    } catch (err) {
      if (err.status === 403) lostTicket(id); // outside this agent's reach now; other errors show on the next action
    }
  }

  /* A ticket left this agent's reach (another agent claimed it, a supervisor moved it): drop it from the queue; if
   * it is open here, say so and switch its controls off (any error shown stays). */
  function lostTicket(id) {
    state.tickets.delete(id);
    state.unread.delete(id);
    renderQueue();
    if (!state.current || state.current.id !== id) return;
    state.current = null;
    els.ticket.querySelectorAll("button, textarea, select").forEach((el) => { el.disabled = true; });
    els.ticket.prepend(h("p", { class: "placeholder", "data-testid": "ticket-gone" }, "Ticket " + id + " is no longer in your reach: another agent or a supervisor has it."));
  }

  function renderTicket() {
    const t = state.current;
    els.head = h("div", { class: "ticket-head" });
    els.error = h("p", { class: "error", role: "alert", "data-testid": "ticket-error", hidden: true });
    els.transfer = h("form", { class: "transfer", hidden: true, "data-testid": "transfer-form" });
    els.reassign = h("form", { class: "transfer", hidden: true, "data-testid": "reassign-form" });
    els.cards = h("div", { class: "cards" });
    els.conversation = h("ol", { class: "conversation", "data-testid": "conversation", "aria-live": "polite" });
    els.reply = replyBox();
    clear(els.ticket).append(
      els.head, els.error, els.transfer, els.reassign,
      h("div", { class: "ticket-body" },
        h("div", { class: "talk" }, h("h3", {}, "Conversation"), els.conversation, els.reply),
        els.cards),
    );
    els.ticket.dataset.ticketId = t.id;
    renderTicketHead();
    renderCards();
    renderConversation();
    loadSuggestions();
  }

  function showError(message) {
    els.error.textContent = message;
    els.error.hidden = !message;
  }

  function renderTicketHead() {
    const t = state.current;
    if (!t) return; // the ticket left this agent's reach (lostTicket)
    const open = t.status === "queued" || t.status === "assigned";
    const mine = t.assignee && state.me && t.assignee === state.me.name;
    const supervising = isSupervisor();
    const action = (name, label, enabled, fn) =>
      h("button", { type: "button", "data-action": name, disabled: !enabled, onclick: fn }, label);
    clear(els.head).append(
      h("h2", {}, h("span", { "data-testid": "ticket-id" }, t.id), " ",
        h("span", { class: "status status-" + t.status, "data-testid": "ticket-status" }, t.status),
        t.assignee ? h("span", { class: "assignee", "data-testid": "ticket-assignee" }, " → " + t.assignee) : null),
      h("div", { class: "actions" },
        action("claim", "Claim", t.status === "queued" && !(t.offered_to && t.offered_to !== state.me.name), () => act("claim")),
        t.offered_to === state.me.name ? action("accept", "Accept", true, () => act("accept")) : null,
        t.offered_to === state.me.name ? action("decline", "Decline", true, () => act("decline")) : null,
        action("transfer", "Transfer…", open && (!t.assignee || mine), toggleTransfer),
        action("resolve", "Resolve", open && (!t.assignee || mine || supervising), () => act("resolve")),
        action("handback", "Hand back", open && (!t.assignee || mine || supervising), () => act("handback")),
        supervising ? action("reassign", "Reassign…", open, toggleReassign) : null),
    );
    if (els.replyText) {
      const canReply = open && mine;
      els.replyText.disabled = !canReply;
      els.replySend.disabled = !canReply;
      els.replyText.placeholder = canReply ? "Reply to the customer…" : open ? "Claim the ticket to reply." : "The ticket is closed.";
    }
  }

  async function act(name) {
    showError("");
    const t = state.current;
    try {
      const updated = await change("/api/tickets/" + encodeURIComponent(t.id) + "/" + name);
      if (state.current && state.current.id === t.id) {
        Object.assign(state.current, updated);
        renderTicketHead();
        renderCards();
      }
      upsertTicket(updated);
      refreshCurrent();
    } catch (err) {
      if (err.status !== 401) {
        showError(err.message);
        refreshCurrent(); // the ticket probably changed under us: show what it is now
      }
    }
  }

  function toggleTransfer() {
    const form = els.transfer;
    if (!form.hidden) {
      form.hidden = true;
      return;
    }
    const kind = h("select", { name: "kind", "data-testid": "transfer-kind" },
      h("option", { value: "skill" }, "to a skill queue"), h("option", { value: "agent" }, "to an agent"));
    const target = h("select", { name: "target", "data-testid": "transfer-target" });
    const fill = () => {
      clear(target);
      const values = kind.value === "skill" ? state.skills : state.agents.map((a) => a.name).filter((n) => n !== state.me.name);
      values.forEach((v) => target.appendChild(h("option", { value: v }, v)));
    };
    kind.addEventListener("change", fill);
    fill();
    const note = h("textarea", { name: "note", rows: 2, placeholder: "Note for the next agent (optional)", "data-testid": "transfer-note" });
    clear(form).append(
      h("label", {}, "Transfer ", kind), h("label", {}, " ", target), note,
      h("button", { type: "submit" }, "Transfer"),
      h("button", { type: "button", onclick: () => { form.hidden = true; } }, "Cancel"),
    );
    form.onsubmit = async (event) => {
      event.preventDefault();
      showError("");
      const body = { [kind.value]: target.value };
      if (note.value.trim()) body.note = note.value.trim();
      try {
        const updated = await change("/api/tickets/" + encodeURIComponent(state.current.id) + "/transfer", body);
        form.hidden = true;
        showChangedTicket(updated);
      } catch (err) {
        if (err.status !== 401) showError(err.message);
      }
    };
    form.hidden = false;
  }

  /* The open ticket as the desk answered a change of it (transfer, reassign): list, head, cards, messages. */
  function showChangedTicket(updated) {
    Object.assign(state.current, updated);
    upsertTicket(updated);
    renderTicketHead();
    renderCards();
    refreshCurrent();
  }

  /* Supervisors: give the ticket to an enabled agent, or back to its queue (POST /api/tickets/{id}/reassign). */
  function toggleReassign() {
    const form = els.reassign;
    if (!form.hidden) {
      form.hidden = true;
      return;
    }
    const t = state.current;
    const target = h("select", { name: "target", "data-testid": "reassign-target" },
      t.status === "assigned" ? h("option", { value: "" }, "back to the " + t.skill + " queue") : null,
      state.agents.filter((a) => a.enabled !== false && a.name !== t.assignee).map((a) =>
        h("option", { value: a.name }, a.name + " (" + a.active_tickets + "/" + a.capacity + ")")));
    clear(form).append(
      h("label", {}, "Reassign to ", target),
      h("button", { type: "submit", "data-testid": "reassign-submit" }, "Reassign"),
      h("button", { type: "button", onclick: () => { form.hidden = true; } }, "Cancel"),
    );
    form.onsubmit = async (event) => {
      event.preventDefault();
      showError("");
      const body = target.value ? { agent: target.value } : { queue: true };
      try {
        const updated = await change("/api/tickets/" + encodeURIComponent(state.current.id) + "/reassign", body);
        form.hidden = true;
        showChangedTicket(updated);
        loadLists(); // the agents' loads changed
      } catch (err) {
        if (err.status !== 401) showError(err.message);
      }
    };
    form.hidden = false;
  }

  // ---- the cards: profile, key facts, reason, SLA, anger, intents, slots

  function card(title, testid, ...body) {
    return h("div", { class: "card", "data-testid": testid }, h("h3", {}, title), body);
  }

  function dl(pairs) {
    return h("dl", {}, pairs.filter((p) => p[1] !== undefined && p[1] !== null && p[1] !== "").map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
  }

  function renderCards() {
    const t = state.current;
    if (!t) return; // the ticket left this agent's reach (lostTicket)
    const ctx = t.context || {};
    const customer = Object.assign({}, t.customer || {}, ctx.customer || {});
    const earlier = customer.earlier_tickets || [];
    clear(els.cards).append(
      card("Customer", "profile",
        h("div", { class: "profile-name" }, customer.display_name || customer.id || "Anonymous customer",
          customer.vip || customer.tier === "vip" ? h("span", { class: "vip" }, "VIP") : null),
        dl([["Customer id", customer.id], ["Tier", customer.tier], ["Language", customer.language],
          ["Channel", t.channel], ["Conversation", t.conversation_id]]),
        h("h4", {}, "Earlier tickets (" + earlier.length + ")"),
        earlier.length
          ? h("ul", { class: "earlier" }, earlier.slice(0, 8).map((e) => h("li", {}, e.id + " · " + (e.status || "") + " · " + (e.reason || "") + (e.created_at ? " · " + time(e.created_at) : ""))))
          : h("p", { class: "muted" }, "None."),
        customerNotes(t)),
      keyFactsCard(t, ctx),
      card("Reason", "reason",
        h("div", { class: "reason-line" }, h("span", { class: "grade grade-" + t.grade, "data-testid": "grade" }, "Grade " + t.grade), " ",
          h("strong", { "data-testid": "reason-code" }, t.reason)),
        dl([["Topic", t.topic || ctx.topic], ["Skill", t.skill], ["Priority", t.priority !== undefined ? Math.round(t.priority) : null],
          ["Senior needed", t.requires_senior ? "yes" : null], ["Queue position", t.position], ["Handed over", time(ctx.created_at || t.created_at)]]),
        topicPicker(t)),
      slaCard(t),
      angerCard(t, ctx),
      intentsCard(ctx),
      slotsCard(ctx),
    );
    tick();
  }

  /* Notes and tags that follow the customer across tickets (signed customer id or WeChat OpenID). */
  function customerNotes(t) {
    const customer = t.customer || {};
    const notes = customer.notes || [];
    const tags = customer.tags || [];
    const path = "/api/tickets/" + encodeURIComponent(t.id) + "/customer/notes";
    const remove = (item) => h("button", { type: "button", class: "link", title: "Remove", "aria-label": "Remove",
      "data-testid": "customer-note-remove", onclick: () => changeNotes(() => api("DELETE", path + "/" + item.id)) }, "×");
    const input = h("input", { type: "text", maxlength: 1000, "data-testid": "customer-note-text",
      placeholder: "A note or a tag about this customer" });
    const add = (kind) => h("button", { type: "button", "data-testid": "customer-" + kind + "-add", onclick: () => {
      const text = input.value.trim();
      if (text) changeNotes(() => change(path, { [kind]: text }));
    } }, kind === "tag" ? "Add tag" : "Add note");
    return h("div", { class: "customer-notes", "data-testid": "customer-notes" },
      h("h4", {}, "Tags"),
      tags.length ? h("div", { class: "canned" }, tags.map((tag) => h("span", { class: "chip", "data-testid": "customer-tag" }, tag.text, remove(tag))))
        : h("p", { class: "muted" }, "None."),
      h("h4", {}, "Notes"),
      notes.length ? h("ul", {}, notes.map((n) => h("li", { "data-testid": "customer-note" }, n.text, h("span", { class: "muted" }, " · " + n.author + " · " + time(n.created_at)), remove(n))))
        : h("p", { class: "muted" }, "None."),
      h("div", { class: "customer-note-form" }, input, add("note"), add("tag")));
  }

  async function changeNotes(call) {
    showError("");
    try {
      await call();
    } catch (err) {
      if (err.status !== 401) showError(err.message);
    }
    refreshCurrent();
  }

  /* The topic the conversation was really about (the trainer's label): only the assignee of an open ticket sets it. */
  function topicPicker(t) {
    const open = t.status === "queued" || t.status === "assigned";
    const mine = t.assignee && state.me && t.assignee === state.me.name;
    const names = state.topics.slice();
    if (t.topic && !names.includes(t.topic)) names.unshift(t.topic);
    const select = h("select", { name: "topic", "data-testid": "topic-select", disabled: !(open && mine),
      title: open && mine ? "What the conversation was about" : open ? "Claim the ticket to set its topic." : "The ticket is closed." },
    t.topic ? null : h("option", { value: "" }, "– choose –"),
    names.map((name) => h("option", { value: name }, name)));
    select.value = t.topic || "";
    select.addEventListener("change", () => {
      if (select.value && select.value !== t.topic) setTopic(select.value);
    });
    return h("label", { class: "topic-picker" }, "Set topic ", select);
  }

  async function setTopic(topic) {
    showError("");
    const t = state.current;
    try {
      const updated = await change("/api/tickets/" + encodeURIComponent(t.id) + "/topic", { topic });
      if (state.current && state.current.id === t.id) Object.assign(state.current, updated);
      upsertTicket(updated);
    } catch (err) {
      if (err.status !== 401) showError(err.message);
    }
    if (state.current && state.current.id === t.id) {
      renderTicketHead();
      renderCards();
    }
  }

  function slaCard(t) {
    const due = t.due || {};
    const detail = t.sla_detail || {};
    const clockRow = (label, key, doneAt) =>
      h("div", { class: "sla-row" },
        h("span", { class: "sla-light", dataset: { key } }, light(detail[key] || t.sla, label)),
        h("span", { class: "sla-label" }, label),
        h("span", { class: "countdown", dataset: { due: due[key] || "", done: doneAt || "", key }, "data-testid": "countdown-" + key }),
        h("span", { class: "muted" }, due[key] ? "due " + time(due[key]) : ""));
    return card("SLA", "sla",
      h("div", { class: "sla-overall" }, light(t.sla, "overall SLA"), " overall: ", h("strong", { "data-testid": "sla-overall" }, t.sla || "–")),
      clockRow("First response", "first_response", t.first_response_at),
      clockRow("Resolution", "resolution", t.closed_at),
      replyWindowRow(t));
  }

  /* WeChat lets the business write only 48 h after the customer's last message: when it closes, and a warning. */
  const WINDOW_WORDS = {
    open: "",
    closing: "closes soon: reply now, or ask for a phone number or e-mail",
    closed: "closed: WeChat will refuse replies until the customer writes again",
  };
  function replyWindowRow(t) {
    const w = t.reply_window;
    if (!w) return null;
    return h("div", { class: "sla-row reply-window reply-window-" + w.state, "data-testid": "reply-window", dataset: { state: w.state } },
      h("span", { class: "sla-label" }, "Reply window"),
      h("span", { class: "countdown", dataset: { due: w.closes_at, done: "", key: "reply_window" } }),
      h("span", { class: "muted" }, "closes " + time(w.closes_at)),
      WINDOW_WORDS[w.state] ? h("strong", { class: "reply-window-warning", "data-testid": "reply-window-warning" }, WINDOW_WORDS[w.state]) : null);
  }

  /* Update the countdowns and the waiting times once a second. */
  function tick() {
    const now = Desk.serverNow();
    document.querySelectorAll(".countdown").forEach((el) => {
      const due = Date.parse(el.dataset.due);
      if (Number.isNaN(due)) {
        el.textContent = "–";
        return;
      }
      if (el.dataset.done) {
        const done = Date.parse(el.dataset.done);
        el.textContent = done <= due ? "met" : "missed by " + duration((done - due) / 1000);
        return;
      }
      const left = (due - now) / 1000;
      el.textContent = left >= 0 ? duration(left) + " left" : "overdue " + duration(-left);
      el.classList.toggle("overdue", left < 0);
      if (left < 0) {
        const holder = el.parentElement.querySelector(".sla-light");
        if (holder && !holder.querySelector(".light-red")) Desk.clear(holder).appendChild(light("red", "breached"));
      }
    });
    document.querySelectorAll(".queue .wait").forEach((el) => {
      const since = Number(el.dataset.since);
      if (since) el.textContent = duration((now - since) / 1000);
    });
  }

  function angerCard(t, ctx) {
    const before = (ctx.anger_history || []).filter((x) => typeof x === "number");
    const after = (t.messages || []).filter((m) => m.role === "customer" && typeof m.anger === "number").map((m) => m.anger);
    const scores = before.concat(after);
    const peak = scores.length ? Math.max(...scores) : null;
    const latest = scores.length ? scores[scores.length - 1] : null;
    return card("Anger trend", "anger",
      scores.length ? sparkline(scores, before.length) : h("p", { class: "muted" }, "No anger scores."),
      dl([["Latest", latest !== null ? latest.toFixed(2) : null], ["Peak", peak !== null ? peak.toFixed(2) : null], ["Turns", scores.length || null]]));
  }

  function sparkline(values, handoffIndex) {
    const w = 240;
    const hgt = 60;
    const pad = 4;
    const n = values.length;
    const x = (i) => (n === 1 ? w / 2 : pad + (i * (w - 2 * pad)) / (n - 1));
    const y = (v) => hgt - pad - Math.max(0, Math.min(1, v)) * (hgt - 2 * pad);
    const points = values.map((v, i) => x(i).toFixed(1) + "," + y(v).toFixed(1)).join(" ");
    const threshold = y(0.7);
    const parts = [
      svg("line", { x1: 0, x2: w, y1: threshold, y2: threshold, class: "spark-threshold" }),
      svg("polyline", { points, class: "spark-line", fill: "none" }),
      values.map((v, i) => svg("circle", { cx: x(i), cy: y(v), r: 2.5, class: v >= 0.7 ? "spark-dot hot" : "spark-dot" }, svg("title", {}, "turn " + (i + 1) + ": " + v.toFixed(2)))),
    ];
    if (handoffIndex > 0 && handoffIndex < n) {
      const hx = (x(handoffIndex - 1) + x(handoffIndex)) / 2;
      parts.push(svg("line", { x1: hx, x2: hx, y1: 0, y2: hgt, class: "spark-handoff" }));
    }
    return svg("svg", { viewBox: "0 0 " + w + " " + hgt, width: w, height: hgt, class: "sparkline", role: "img", "aria-label": "anger scores " + values.map((v) => v.toFixed(2)).join(", "), "data-testid": "anger-sparkline" }, parts);
  }

  const FACT_LABEL = { order_number: "Order", tracking_number: "Tracking", amount: "Amount", date: "Date", phone: "Phone" };

  /* Key facts of the whole conversation: the packet's (before the handoff) and each customer message's since,
     each once (as written, phones masked), grouped by kind, first mentioned first. */
  function keyFactsCard(t, ctx) {
    const seen = new Map();
    const add = (fact, at) => {
      if (!fact || !FACT_LABEL[fact.kind] || typeof fact.value !== "string") return;
      const key = fact.kind + "|" + fact.value.replace(/[\s\-.()（）]/g, "").toLowerCase();
      const known = seen.get(key);
      if (known) known.mentions += fact.mentions || 1;
      else seen.set(key, { kind: fact.kind, value: fact.value, at: fact.at || at, mentions: fact.mentions || 1 });
    };
    (ctx.key_facts || []).forEach((fact) => add(fact, null));
    (t.messages || []).filter((m) => m.role === "customer").forEach((m) => (m.key_facts || []).forEach((fact) => add(fact, m.at)));
    const facts = Array.from(seen.values());
    return card("Key facts", "key-facts",
      facts.length
        ? h("dl", { class: "key-facts" }, Object.keys(FACT_LABEL).map((kind) => {
          const mine = facts.filter((f) => f.kind === kind);
          return mine.length ? [h("dt", {}, FACT_LABEL[kind]), h("dd", {}, mine.map((f) =>
            h("span", { class: "fact", dataset: { kind }, "data-testid": "key-fact", title: f.at ? "first mentioned " + time(f.at) : "" },
              f.value, f.mentions > 1 ? h("span", { class: "muted" }, " ×" + f.mentions) : null)))] : null;
        }))
        : h("p", { class: "muted" }, "No order numbers, amounts, dates or phones mentioned."));
  }

  function intentsCard(ctx) {
    const intents = ctx.intents || [];
    return card("Intents", "intents",
      intents.length
        ? h("table", { class: "intents" },
          h("thead", {}, h("tr", {}, h("th", {}, "#"), h("th", {}, "intent"), h("th", {}, "confidence"))),
          h("tbody", {}, intents.map((i) => {
            const c = typeof i.confidence === "number" ? i.confidence : null;
            return h("tr", {},
              h("td", {}, i.turn),
              h("td", {}, i.name || "–"),
              h("td", {}, c === null ? "–" : h("span", { class: "bar" }, h("span", { class: "bar-fill" + (c < 0.5 ? " low" : ""), style: { width: Math.round(c * 100) + "%" } }), h("span", { class: "bar-label" }, c.toFixed(2)))));
          })))
        : h("p", { class: "muted" }, "No intents."));
  }

  function slotsCard(ctx) {
    const slots = Object.entries(ctx.slots || {}).filter(([, v]) => v !== null && v !== undefined && v !== "");
    return card("Slots", "slots",
      slots.length ? dl(slots.map(([k, v]) => [k, typeof v === "object" ? JSON.stringify(v) : String(v)])) : h("p", { class: "muted" }, "No slots set."));
  }

  // ---- the conversation

  const ROLE_LABEL = { customer: "Customer", bot: "Assistant", agent: "Agent", note: "Note", system: "Desk" };

  function bubble(role, text, at, extra) {
    return h("li", { class: "msg msg-" + role, dataset: Object.assign({ role, at: at || "" }, extra || {}) },
      h("div", { class: "msg-meta" }, ROLE_LABEL[role] || role, (extra && extra.author) ? " · " + extra.author : "", at ? " · " + time(at) : "",
        extra && extra.status && extra.status !== "received" && extra.status !== "internal" ? h("span", { class: "msg-status status-" + extra.status }, " · " + extra.status) : null),
      h("div", { class: "msg-text" }, text));
  }

  function renderConversation() {
    const t = state.current;
    if (!t) return; // the ticket left this agent's reach (lostTicket)
    const ctx = t.context || {};
    const list = els.conversation;
    clear(list);
    (ctx.transcript || []).forEach((line) => list.appendChild(bubble(line.role, line.text, line.at,
      Object.assign({ source: "transcript" }, mailOf(line)))));
    list.appendChild(h("li", { class: "handoff-mark" }, "— handed over: " + t.reason + " · grade " + t.grade + " —"));
    (t.messages || []).forEach((m) => list.appendChild(messageItem(m)));
    placeMails(list, t.mails || []);
    if (t.mails_error) list.appendChild(h("li", { class: "handoff-mark", "data-testid": "mails-error" }, "— " + t.mails_error + " —"));
    list.scrollTop = list.scrollHeight;
  }

  // ---- what the customer's e-mails brought: attachments and the kept raw mail, as downloads only (no preview)

  const MAIL_NEAR_MS = 5 * 60 * 1000; // a mail goes under the customer message received within this of it

  /* The kept mail a customer message came as (`mail` of a transcript line or a desk message), as a dataset. */
  function mailOf(message) {
    return typeof message.mail === "number" ? { mail: String(message.mail) } : {};
  }

  /* Each kept mail's files go under the customer message it came as (transcript or desk: `data-mail`, the
   * mail's id), even when two mails arrived within the same second. A message from before messages carried
   * the id: under the customer message nearest in time without one, within MAIL_NEAR_MS; a mail with neither
   * (before the handoff's transcript, say) gets its own line. */
  function placeMails(list, mails) {
    const customer = Array.from(list.querySelectorAll("li.msg-customer"));
    mails.forEach((mail) => {
      const own = customer.find((item) => item.dataset.mail === String(mail.id));
      if (own) { own.appendChild(mailFiles(mail)); return; }
      const at = Date.parse(mail.received_at);
      let best = null;
      let gap = MAIL_NEAR_MS;
      customer.filter((item) => !item.dataset.mail).forEach((item) => {
        const d = Math.abs(Date.parse(item.dataset.at) - at);
        if (d <= gap) { best = item; gap = d; }
      });
      if (best) best.appendChild(mailFiles(mail));
      else list.appendChild(h("li", { class: "msg msg-customer msg-mail" },
        h("div", { class: "msg-meta" }, "E-mail · " + time(mail.received_at)), mailFiles(mail)));
    });
  }

  function mailFiles(mail) {
    const files = (mail.attachments || []).map((a) => h("li", { class: "mail-file", "data-testid": "mail-attachment" },
      a.url ? downloadLink(a.url, a.filename, "mail-attachment-link", a.filename) : h("span", {}, a.filename),
      h("span", { class: "muted" }, " · " + (a.content_type || "unknown type") + " · " + bytes(a.size)),
      a.refused ? h("span", { class: "muted", "data-testid": "mail-attachment-refused" }, " · not kept: " + a.refused) : null));
    const cut = mail.kept_bytes < mail.size ? " (first " + bytes(mail.kept_bytes) + " of " + bytes(mail.size) + ")" : "";
    return h("div", { class: "mail-files", "data-testid": "mail-files", dataset: { mailId: String(mail.id) } },
      files.length ? h("ul", {}, files) : null,
      mail.raw_url ? downloadLink(mail.raw_url, "mail-" + mail.id + ".eml", "mail-raw-link", "Raw mail" + cut) : null,
      (mail.problems || []).length ? h("p", { class: "muted", "data-testid": "mail-problems" }, "Not read: " + mail.problems.join("; ")) : null);
  }

  function bytes(n) {
    if (typeof n !== "number") return "? bytes";
    return n < 1024 ? n + " bytes" : n < 1048576 ? (n / 1024).toFixed(1) + " KB" : (n / 1048576).toFixed(1) + " MB";
  }

  /* The desk needs the agent's token, which a plain link would not send: fetch the file, then save it from a
   * blob URL with `download` (the browser saves it; it is never opened in the page). */
  function downloadLink(url, filename, testid, label) {
    return h("a", { href: url, class: "download", download: filename, "data-testid": testid, onclick: (event) => {
      event.preventDefault();
      download(url, filename);
    } }, label);
  }

  async function download(url, filename) {
    showError("");
    try {
      const response = await fetch(url, { headers: { Authorization: "Bearer " + token() } });
      if (!response.ok) {
        const body = await response.json().catch(() => ({}));
        throw new Error(body.error || "download failed (" + response.status + ")");
      }
      const blob = new Blob([await response.arrayBuffer()], { type: "application/octet-stream" });
      const link = h("a", { href: URL.createObjectURL(blob), download: filename, hidden: true });
      document.body.appendChild(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(link.href), 60000);
    } catch (err) {
      showError(err.message);
    }
  }

  function messageItem(m) {
    const item = bubble(m.role, m.text, m.at,
      Object.assign({ messageId: String(m.id), status: m.status, author: m.author, source: "desk" }, mailOf(m)));
    if (m.role === "agent" && m.status === "failed") {
      item.appendChild(h("button", { type: "button", class: "retry", onclick: () => retry(m.id) }, "Retry"));
    }
    return item;
  }

  function upsertMessage(message) {
    const t = state.current;
    t.messages = t.messages || [];
    const index = t.messages.findIndex((m) => m.id === message.id);
    if (index >= 0) t.messages[index] = message;
    else t.messages.push(message);
    renderConversation();
    if (message.role === "customer" && (typeof message.anger === "number" || (message.key_facts || []).length)) renderCards();
    if (message.role === "customer") loadSuggestions();
  }

  async function retry(id) {
    showError("");
    try {
      const message = await change("/api/tickets/" + encodeURIComponent(state.current.id) + "/messages/" + id + "/retry");
      upsertMessage(message);
    } catch (err) {
      if (err.status !== 401) showError(err.message);
    }
  }

  // ---- the reply box

  function replyBox() {
    els.replyText = h("textarea", { rows: 3, name: "reply", "data-testid": "reply-text", placeholder: "Reply to the customer…" });
    els.replySend = h("button", { type: "submit", "data-testid": "reply-send" }, "Send");
    els.canned = h("div", { class: "canned", "data-testid": "canned" });
    els.suggestions = h("div", { class: "suggestions", "data-testid": "suggestions" });
    els.faqQuery = h("input", { type: "search", "data-testid": "faq-search", placeholder: "Search FAQ answers (中文 / English)" });
    els.faqResults = h("ul", { class: "faq-results", "data-testid": "faq-results" });
    let searchTimer = null;
    els.faqQuery.addEventListener("input", () => {
      clearTimeout(searchTimer);
      searchTimer = setTimeout(searchFaq, 250);
    });
    const form = h("form", { class: "reply" }, els.suggestions, h("div", { class: "faq-search" }, els.faqQuery, els.faqResults),
      els.canned, els.replyText, h("div", { class: "reply-actions" }, h("span", { class: "muted" }, "Ctrl+Enter sends"), els.replySend));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      send();
    });
    els.replyText.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        send();
      }
    });
    renderReplyCanned();
    return form;
  }

  function renderReplyCanned() {
    if (!els.canned || !state.current) return;
    const lang = ((state.current.customer || {}).language) || "zh";
    const base = lang === "en" ? "en" : "zh";
    const items = state.canned.filter((c) => !c.language || c.language === lang || c.language === base);
    clear(els.canned);
    if (!items.length) return;
    Desk.append(els.canned, [h("span", { class: "muted" }, "Canned: "),
      items.map((c) => h("button", { type: "button", class: "chip", title: c.text, dataset: { cannedId: c.id }, onclick: () => {
        const text = els.replyText;
        text.value = text.value ? text.value.replace(/\s*$/, " ") + c.text : c.text;
        text.focus();
      } }, c.title))]);
  }

  /* Puts a text into the reply box for editing (after what is there). */
  function insertReply(text) {
    const box = els.replyText;
    box.value = box.value ? box.value.replace(/\s*$/, " ") + text : text;
    box.focus();
  }

  /* Suggested answers: the best FAQ answers for the customer's last message, from the assistant's model. */
  async function loadSuggestions() {
    const t = state.current;
    if (!t || !els.suggestions) return;
    let items = [];
    let reason = null;
    try {
      const { data, response } = await Desk.apiWithHeaders("/api/tickets/" + encodeURIComponent(t.id) + "/suggestions");
      items = data || [];
      reason = response.headers.get("X-Suggestions-Reason");
    } catch (err) {
      reason = err.message;
    }
    if (!state.current || state.current.id !== t.id) return;
    clear(els.suggestions).append(h("span", { class: "muted" }, "Suggested answers: "));
    if (!items.length) {
      els.suggestions.append(h("span", { class: "muted", "data-testid": "suggestions-empty" }, reason || "none"));
      return;
    }
    items.forEach((s) => els.suggestions.append(h("button", { type: "button", class: "suggestion", "data-testid": "suggestion",
      title: s.text, dataset: { topic: s.topic }, onclick: () => insertReply(s.text) },
      h("strong", {}, s.name || s.topic), " " + Math.round((s.confidence || 0) * 100) + "% · ",
      h("span", { class: "suggestion-text" }, s.text.length > 80 ? s.text.slice(0, 80) + "…" : s.text))));
  }

  async function searchFaq() {
    const q = els.faqQuery.value.trim();
    clear(els.faqResults);
    if (!q || !state.current) return;
    const language = ((state.current.customer || {}).language) || "zh";
    try {
      const found = await api("GET", "/api/faq?q=" + encodeURIComponent(q) + "&language=" + encodeURIComponent(language));
      if (els.faqQuery.value.trim() !== q) return;
      if (!found.length) els.faqResults.append(h("li", { class: "muted" }, "No FAQ answer matches."));
      found.slice(0, 8).forEach((item) => els.faqResults.append(h("li", {},
        h("button", { type: "button", class: "link", "data-testid": "faq-result", dataset: { topic: item.topic }, title: item.text,
          onclick: () => insertReply(item.text) }, (item.name || item.topic) + " — " + (item.question_zh || "") + " / " + (item.question_en || "")))));
    } catch (err) {
      if (err.status !== 401) els.faqResults.append(h("li", { class: "error" }, err.message));
    }
  }

  /* The reply whose outcome is unknown (the desk could not be reached, even on the repeats): sending the same
   * text on the same ticket again is the same action, with the same key, so it is stored and sent once. */
  let unansweredReply = null;

  async function send() {
    const text = els.replyText.value.trim();
    if (!text || els.replySend.disabled) return;
    showError("");
    els.replySend.disabled = true;
    const ticketId = state.current.id;
    const same = unansweredReply && unansweredReply.ticketId === ticketId && unansweredReply.text === text;
    const key = same ? unansweredReply.key : Desk.newIdempotencyKey();
    try {
      const message = await change("/api/tickets/" + encodeURIComponent(ticketId) + "/messages", { text }, key);
      unansweredReply = null;
      els.replyText.value = "";
      if (message && message.id !== undefined) upsertMessage(message);
    } catch (err) {
      unansweredReply = err.status === 0 ? { ticketId, text, key } : null;
      if (err.status !== 401) showError(err.message);
      refreshCurrent();
    } finally {
      renderTicketHead();
    }
  }

  boot();
})();
