// The Askaround page: connect with an API key (or the local keyless mode of `serve --network`),
// preview who a question would be routed to and why, and read the network's weekly summary.
// It calls the same /v1 endpoints as any client. Everything shown is built with DOM nodes and
// text nodes, never parsed as HTML, so names, questions and evidence always show as text.
"use strict";

(() => {
  const KEY_STORAGE = "askaround.apiKey";
  const $ = (id) => document.getElementById(id);

  const state = {
    key: sessionStorage.getItem(KEY_STORAGE),
    summaryLoaded: false,
  };

  // ---- talking to the API -------------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, code, detail, sentKey) {
      super(detail || code);
      this.status = status;
      this.code = code;
      this.detail = detail;
      this.sentKey = sentKey;
    }
  }

  // `key`: undefined uses the stored key, null sends none, a string sends that one.
  async function api(method, path, body, key) {
    const useKey = key === undefined ? state.key : key;
    const headers = { Accept: "application/json" };
    if (useKey) headers.Authorization = "Bearer " + useKey;
    const init = { method, headers };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(path, init);
    } catch (_) {
      throw new ApiError(0, "unreachable", "", Boolean(useKey));
    }
    let data = null;
    try {
      data = await response.json();
    } catch (_) {
      data = null;
    }
    if (!response.ok) {
      const code = (data && data.error) || "http_error";
      const detail = (data && data.detail) || response.statusText;
      throw new ApiError(response.status, code, detail, Boolean(useKey));
    }
    return data;
  }

  // An API error as a sentence for the person using the page.
  function explain(err) {
    if (!(err instanceof ApiError)) {
      return "Something went wrong in this page: " + err.message;
    }
    const detail = sentence(err.detail);
    switch (err.status) {
      case 0:
        return "Could not reach the Askaround server. Is askaround serve still running?";
      case 401:
        return err.sentKey
          ? "That key is not valid: it may be mistyped, cut short or revoked. " +
              "Create a new one with: askaround keys create --network NAME"
          : "This server needs an API key: paste one in the box at the top.";
      case 403:
        return "This key is not allowed to do that. " + detail;
      case 404:
        return "Not found: " + detail;
      case 409:
        return "That clashes with what is stored: " + detail;
      case 400:
      case 422:
        return "That was not accepted: " + detail;
      case 503:
        return "The service is not ready yet: " + detail;
      default:
        return (
          "The server could not answer (error " + err.status + "). " +
          "Try again; if it keeps happening, look at the server's log."
        );
    }
  }

  function sentence(text) {
    const t = String(text || "").trim();
    if (!t) return "";
    return /[.!?]$/.test(t) ? t : t + ".";
  }

  // ---- small DOM helpers --------------------------------------------------------------------

  // Text people typed, in its own <bdi>, so a direction override in a name cannot reorder the
  // rest of the line it is shown in (the copied text stays as typed).
  function isolated(text) {
    return el("bdi", {}, text);
  }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      node.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function showError(target, message) {
    target.textContent = message;
    target.hidden = !message;
  }

  async function busy(button, label, work) {
    const original = button.textContent;
    button.disabled = true;
    button.textContent = label;
    try {
      return await work();
    } finally {
      button.disabled = false;
      button.textContent = original;
    }
  }

  function formatDate(iso, withTime) {
    const date = new Date(iso);
    if (Number.isNaN(date.getTime())) return String(iso);
    const options = { year: "numeric", month: "short", day: "numeric" };
    if (withTime) {
      Object.assign(options, { hour: "2-digit", minute: "2-digit", hour12: false, timeZoneName: "short" });
    }
    return date.toLocaleString(undefined, options);
  }

  function formatNumber(value) {
    return Number.isInteger(value) ? String(value) : Number(value).toFixed(1);
  }

  function plural(n, one, many) {
    return n + " " + (n === 1 ? one : many || one + "s");
  }

  // ---- connecting ---------------------------------------------------------------------------

  function setConnection(network, how) {
    const status = $("connection");
    status.textContent = "";
    status.className = "status";
    $("key-forget").hidden = !state.key;
    if (!network) {
      status.textContent = "Not connected yet: paste an API key to begin.";
      return;
    }
    status.classList.add("ok");
    const size =
      plural(network.people, "person", "people") +
      ", " +
      plural(network.evidence, "piece") +
      " of evidence";
    if (how === "key") {
      status.append("Connected to network ", el("strong", {}, network.name), " (" + size + ").");
    } else {
      status.append(
        "Local development mode: reading network ",
        el("strong", {}, network.name),
        " (" + size + ") without a key, as ",
        el("code", {}, "askaround serve --network"),
        " allows on this machine."
      );
    }
  }

  function forgetKey() {
    state.key = null;
    sessionStorage.removeItem(KEY_STORAGE);
    state.summaryLoaded = false;
  }

  // What the page can read now: with the stored key, else the keyless network, else nothing.
  async function connect() {
    if (state.key) {
      try {
        setConnection(await api("GET", "/v1/network"), "key");
        return;
      } catch (err) {
        showError($("key-error"), explain(err));
        if (err.status !== 401) return;
        forgetKey();
      }
    }
    try {
      setConnection(await api("GET", "/v1/network", undefined, null), "open");
    } catch (err) {
      setConnection(null);
      if (err.status !== 401) showError($("key-error"), explain(err));
    }
  }

  // A 401 with the stored key means it stopped working: forget it and say so at the top too.
  function handle(err, target) {
    showError(target, explain(err));
    if (err instanceof ApiError && err.status === 401 && err.sentKey) {
      forgetKey();
      setConnection(null);
    }
  }

  $("key-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const input = $("key");
    const key = input.value.trim();
    showError($("key-error"), "");
    if (!key) {
      showError($("key-error"), "Paste an API key first.");
      input.focus();
      return;
    }
    await busy($("key-submit"), "Checking…", async () => {
      try {
        const network = await api("GET", "/v1/network", undefined, key);
        state.key = key;
        sessionStorage.setItem(KEY_STORAGE, key);
        input.value = "";
        setConnection(network, "key");
        refreshAfterConnecting();
      } catch (err) {
        showError($("key-error"), explain(err));
        input.focus();
        input.select();
      }
    });
  });

  $("key-forget").addEventListener("click", async () => {
    forgetKey();
    showError($("key-error"), "");
    await connect();
    refreshAfterConnecting();
    $("key").focus();
  });

  function refreshAfterConnecting() {
    state.summaryLoaded = false;
    $("ask-result").textContent = "";
    showError($("ask-error"), "");
    $("summary-result").textContent = "";
    showError($("summary-error"), "");
    if (!$("panel-summary").hidden) loadSummary();
  }

  // ---- tabs ---------------------------------------------------------------------------------

  const tabs = [$("tab-ask"), $("tab-summary")];

  function selectTab(tab, focus) {
    for (const each of tabs) {
      const on = each === tab;
      each.setAttribute("aria-selected", String(on));
      each.tabIndex = on ? 0 : -1;
      $(each.getAttribute("aria-controls")).hidden = !on;
    }
    if (focus) tab.focus();
    if (tab.id === "tab-summary" && !state.summaryLoaded) loadSummary();
  }

  for (const tab of tabs) {
    tab.addEventListener("click", () => selectTab(tab, false));
    tab.addEventListener("keydown", (event) => {
      const at = tabs.indexOf(tab);
      const moves = {
        ArrowRight: (at + 1) % tabs.length,
        ArrowLeft: (at - 1 + tabs.length) % tabs.length,
        Home: 0,
        End: tabs.length - 1,
      };
      if (event.key in moves) {
        event.preventDefault();
        selectTab(tabs[moves[event.key]], true);
      }
    });
  }

  // ---- asking: who would be asked and why ----------------------------------------------------

  const REASON_TAGS = {
    evidence: "knows",
    social: "close to you",
    activity: "active",
    fairness: "fairness",
    contact: "you know them",
  };

  function reasonItem(reason) {
    const item = el(
      "li",
      { class: "reason", "data-kind": reason.kind },
      el("span", { class: "tag" }, REASON_TAGS[reason.kind] || reason.kind),
      el("span", { class: "reason-text" }, reason.text)
    );
    if (reason.snippet && reason.snippet !== reason.text) {
      item.append(el("blockquote", {}, reason.snippet));
    }
    const meta = [];
    if (reason.source) meta.push("from " + reason.source);
    if (reason.date) meta.push(formatDate(reason.date, false));
    if (meta.length || reason.link) {
      const line = el("div", { class: "meta" }, meta.join(" · "));
      if (reason.link && /^https?:\/\//i.test(reason.link)) {
        if (meta.length) line.append(" · ");
        line.append(
          el("a", { href: reason.link, target: "_blank", rel: "noopener noreferrer" }, "open source")
        );
      }
      item.append(line);
    }
    return item;
  }

  function candidateItem(candidate) {
    const reasons = candidate.reasons || [];
    return el(
      "li",
      { class: "candidate" },
      el(
        "header",
        {},
        el("h3", {}, candidate.name),
        el("span", { class: "xid" }, candidate.external_id),
        el("span", { class: "score" }, "match " + Number(candidate.score).toFixed(2))
      ),
      el("p", { class: "because" }, "Asked because:"),
      reasons.length
        ? el("ul", { class: "reasons" }, reasons.map(reasonItem))
        : el("p", { class: "empty" }, "no specific reason (the best of a weak field)")
    );
  }

  function pastAnswerItem(answer, asker) {
    const meta = el(
      "div",
      { class: "meta" },
      "answered by ", isolated(answer.name), " · " + formatDate(answer.answered_at, false)
    );
    if (answer.link && /^https?:\/\//i.test(answer.link)) {
      meta.append(
        " · ",
        el("a", { href: answer.link, target: "_blank", rel: "noopener noreferrer" }, "open thread")
      );
    }
    const item = el(
      "li",
      { class: "past-answer", "data-evidence": String(answer.evidence_id) },
      el("h3", {}, answer.question),
      el("blockquote", {}, answer.excerpt),
      meta
    );
    if (asker) {
      const status = el("span", { class: "status", role: "status" });
      const button = el("button", { type: "button", class: "quiet" }, "That answers it");
      button.addEventListener("click", () =>
        busy(button, "Crediting…", async () => {
          try {
            const done = await api("POST", "/v1/reuses", {
              evidence_id: answer.evidence_id,
              asker,
            });
            status.replaceChildren(
              ...(done.credited
                ? [isolated(answer.name), " gets a favour for it; nobody needs to be asked."]
                : ["That is your own answer."])
            );
          } catch (err) {
            status.textContent = explain(err);
          }
        })
      );
      item.append(el("div", { class: "actions" }, button, status));
    }
    return item;
  }

  function renderPastAnswers(out, answers, asker) {
    if (!answers || !answers.length) return;
    out.append(
      el(
        "div",
        { class: "past-title", role: "heading", "aria-level": "2" },
        "Already answered? " + plural(answers.length, "past answer", "past answers")
      ),
      el(
        "ol",
        { class: "past-answers" },
        answers.map((answer) => pastAnswerItem(answer, asker))
      )
    );
  }

  function renderRoute(route, asker) {
    const out = $("ask-result");
    out.textContent = "";
    renderPastAnswers(out, route.answers, asker);
    const notes = [...(route.notes || [])];
    if (route.adjusted) {
      notes.unshift("Fairness changed who is asked: people asked very recently or at their weekly limit sit this one out, and people who have given a lot lately move down.");
    }
    for (const note of notes) out.append(el("p", { class: "note" }, note));
    const candidates = route.candidates || [];
    if (!candidates.length) {
      out.append(
        el(
          "p",
          { class: "empty" },
          "Nobody in this network matches that question yet. Add people and what they know " +
            "(evidence) with askaround import or the API, then ask again."
        )
      );
      return;
    }
    const heading =
      route.intent === "contacts"
        ? plural(candidates.length, "person", "people") + " you know there"
        : plural(candidates.length, "person", "people") + " would be asked";
    out.append(
      el("h2", {}, heading),
      el("ol", { class: "candidates" }, candidates.map(candidateItem))
    );
  }

  function askBody() {
    const question = $("question").value.trim();
    if (!question) return { problem: "Type a question first.", field: $("question") };
    const body = { question };
    const asker = $("asker").value.trim();
    if (asker) body.asker = asker;
    const kText = $("k").value.trim();
    if (kText) {
      const k = Number(kText);
      if (!Number.isInteger(k) || k < 1 || k > 50) {
        $("k").closest("details").open = true;
        return { problem: "People to ask must be a whole number from 1 to 50.", field: $("k") };
      }
      body.k = k;
    }
    return { body };
  }

  async function ask() {
    showError($("ask-error"), "");
    const { body, problem, field } = askBody();
    if (problem) {
      showError($("ask-error"), problem);
      field.focus();
      return;
    }
    const out = $("ask-result");
    out.setAttribute("aria-busy", "true");
    await busy($("ask-submit"), "Looking…", async () => {
      try {
        renderRoute(await api("POST", "/v1/route", body), body.asker);
      } catch (err) {
        out.textContent = "";
        handle(err, $("ask-error"));
      } finally {
        out.removeAttribute("aria-busy");
      }
    });
  }

  $("ask-form").addEventListener("submit", (event) => {
    event.preventDefault();
    ask();
  });

  $("question").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      $("ask-form").requestSubmit();
    }
  });

  // ---- the weekly summary -------------------------------------------------------------------

  function part(title, ...content) {
    return el("section", { class: "part" }, el("h3", {}, title), ...content);
  }

  function stat(label, value) {
    return el("div", { class: "stat" }, el("dt", {}, label), el("dd", {}, value));
  }

  function renderSummary(summary) {
    const out = $("summary-result");
    out.textContent = "";
    const spread = summary.spread;
    out.append(
      el("h2", {}, "Week " + summary.week + " in ", isolated(summary.network_name)),
      el(
        "p",
        { class: "meta" },
        "From " + formatDate(summary.week_start, true) + " to " + formatDate(summary.as_of, true)
      ),
      el(
        "dl",
        { class: "stats" },
        stat("Asks", spread.asks),
        stat("People asked", spread.people_asked),
        stat("Most asks to one person", spread.max_per_person),
        stat("Unanswered questions", summary.unanswered.length)
      )
    );

    const givers = summary.top_givers;
    out.append(
      part(
        "Top givers",
        givers.length
          ? el(
              "table",
              {},
              el("caption", { class: "visually-hidden" }, "Who answered most this week"),
              el(
                "thead",
                {},
                el(
                  "tr",
                  {},
                  el("th", { scope: "col" }, "Person"),
                  el("th", { scope: "col", class: "num" }, "Answers"),
                  el("th", { scope: "col", class: "num" }, "Weight")
                )
              ),
              el(
                "tbody",
                {},
                givers.map((giver) =>
                  el(
                    "tr",
                    {},
                    el("td", {}, giver.name),
                    el("td", { class: "num" }, giver.count),
                    el("td", { class: "num" }, formatNumber(giver.weight))
                  )
                )
              )
            )
          : el("p", { class: "empty" }, "Nobody answered a question this week."),
        givers.length
          ? el("p", { class: "hint" }, "Weight adds to each answer when it was marked helpful or thanked.")
          : null
      )
    );

    out.append(
      part(
        "Only take",
        summary.only_take.length
          ? el("ul", { class: "only-take" }, summary.only_take.map((name) => el("li", {}, name)))
          : el("p", { class: "empty" }, "Nobody only takes: everyone who got an answer has given one."),
        summary.only_take.length
          ? el("p", { class: "hint" }, "Have received answers but never answered anyone (all time).")
          : null
      )
    );

    out.append(
      part(
        "Unanswered questions",
        summary.unanswered.length
          ? el(
              "ul",
              { class: "unanswered" },
              summary.unanswered.map((q) =>
                el(
                  "li",
                  {},
                  el("span", {}, "“", isolated(q.text), "”"),
                  el(
                    "div",
                    { class: "meta" },
                    "asked by ",
                    isolated(q.asker_name),
                    " on " + formatDate(q.asked_at, false) + ", " +
                      plural(q.people_asked, "person", "people") + " asked"
                  )
                )
              )
            )
          : el("p", { class: "empty" }, "Every question asked has an answer.")
      )
    );

    const spreadText = [];
    if (spread.busiest.length && spread.max_per_person > 0) {
      const names = spread.busiest.flatMap((name, i) => (i ? [", ", isolated(name)] : [isolated(name)]));
      spreadText.push(["Busiest: ", ...names, " (" + plural(spread.max_per_person, "ask") + ")."]);
    }
    spreadText.push(
      "Gini " + Number(spread.gini).toFixed(2) +
        " across everyone who can be asked (0: asks spread evenly; 1: one person got them all)."
    );
    out.append(part("How asks were spread", spreadText.map((t) => el("p", {}, t))));
  }

  async function loadSummary() {
    showError($("summary-error"), "");
    const week = $("week").value;
    const path = "/v1/summary" + (week ? "?week=" + encodeURIComponent(week) : "");
    const out = $("summary-result");
    out.setAttribute("aria-busy", "true");
    await busy($("summary-submit"), "Loading…", async () => {
      try {
        renderSummary(await api("GET", path));
        state.summaryLoaded = true;
      } catch (err) {
        out.textContent = "";
        handle(err, $("summary-error"));
      } finally {
        out.removeAttribute("aria-busy");
      }
    });
  }

  $("summary-form").addEventListener("submit", (event) => {
    event.preventDefault();
    loadSummary();
  });

  connect();
})();
