// The network page: reads GET /v1/network/overview with the key in this tab and draws it as
// inline SVG (no library, nothing from elsewhere). Numbers shown are the API's numbers.
(function () {
  "use strict";
  const SVG = "http://www.w3.org/2000/svg";
  const COLORS = { give: "#2f855a", take: "#c05621", both: "#2b6cb0" };
  const KEY = "askaround.apiKey";
  const $ = (id) => document.getElementById(id);

  // A name fenced off (first-strong isolate … pop isolate): its direction overrides stay inside.
  function isolated(text) {
    return "\u2068" + text + "\u2069";
  }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    for (const child of children) node.append(child);
    return node;
  }

  function svg(tag, attrs, text) {
    const node = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function num(value) {
    return Number(value).toLocaleString("en-US", { maximumFractionDigits: 2 });
  }

  function table(id, head, rows, empty) {
    const target = $(id);
    target.textContent = "";
    if (!rows.length) {
      target.append(el("caption", { class: "empty" }, empty));
      return;
    }
    target.append(el("thead", {}, el("tr", {}, ...head.map(([t, c]) => el("th", c ? { class: c } : {}, t)))));
    target.append(
      el("tbody", {}, ...rows.map((row) => el("tr", {}, ...row.map(([t, c]) => el("td", c ? { class: c } : {}, String(t))))))
    );
  }

  function kind(node) {
    if (node.given === 0) return "take";
    return node.given >= node.received ? "give" : "both";
  }

  function drawGraph(data) {
    const graph = $("graph");
    graph.textContent = "";
    const defs = svg("defs");
    const marker = svg("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 10, refY: 5, markerWidth: 6, markerHeight: 6, orient: "auto-start-reverse" });
    marker.append(svg("path", { d: "M 0 0 L 10 5 L 0 10 z", fill: "#7a8294" }));
    defs.append(marker);
    graph.append(defs);
    const nodes = data.nodes;
    if (!nodes.length) {
      graph.append(svg("text", { x: 360, y: 240, "text-anchor": "middle", class: "empty" }, "No favours yet"));
      return;
    }
    const cx = 360, cy = 240, ring = nodes.length === 1 ? 0 : 180;
    const at = {};
    nodes.forEach((n, i) => {
      const angle = (2 * Math.PI * i) / nodes.length - Math.PI / 2;
      const r = 8 + 4 * Math.sqrt(n.given + n.received);
      at[n.person_id] = { x: cx + ring * Math.cos(angle), y: cy + ring * Math.sin(angle), r, n };
    });
    const edges = svg("g", { class: "edges" });
    for (const e of data.edges) {
      const a = at[e.giver_id], b = at[e.taker_id];
      if (!a || !b) continue;
      const dx = b.x - a.x, dy = b.y - a.y, len = Math.hypot(dx, dy) || 1;
      const line = svg("line", {
        x1: a.x + (dx / len) * a.r, y1: a.y + (dy / len) * a.r,
        x2: b.x - (dx / len) * (b.r + 2), y2: b.y - (dy / len) * (b.r + 2),
        stroke: "#7a8294", "stroke-width": 1 + 1.5 * Math.sqrt(e.weight), "marker-end": "url(#arrow)",
        "data-giver": e.giver_id, "data-taker": e.taker_id,
      });
      line.append(svg("title", {}, isolated(a.n.name) + " → " + isolated(b.n.name) + ": " + num(e.weight) + " favours"));
      edges.append(line);
    }
    graph.append(edges);
    const group = svg("g", { class: "nodes" });
    for (const { x, y, r, n } of Object.values(at)) {
      const circle = svg("circle", { cx: x, cy: y, r, fill: COLORS[kind(n)], "data-person": n.person_id });
      circle.append(svg("title", {}, isolated(n.name) + ": gave " + num(n.given) + ", received " + num(n.received)));
      group.append(circle);
      group.append(svg("text", { x, y: y + r + 14, "text-anchor": "middle" }, n.name));
    }
    graph.append(group);
  }

  function drawAsks(asks) {
    const chart = $("asks-chart");
    chart.textContent = "";
    const people = asks.people.slice(0, 15);
    $("gini").textContent =
      "Gini " + asks.gini.toFixed(2) + " over " + asks.weeks.length + " weeks (" +
      asks.weeks[0] + " to " + asks.weeks[asks.weeks.length - 1] + "); 0 means everyone is asked equally.";
    const rowH = 24, left = 150, width = 560, top = 28;
    chart.setAttribute("viewBox", "0 0 760 " + (top + rowH * Math.max(people.length, 1) + 10));
    const max = Math.max(1, ...people.map((p) => p.total));
    asks.weeks.forEach((week, i) => {
      const shade = 0.35 + (0.65 * (i + 1)) / asks.weeks.length;
      chart.append(svg("rect", { x: left + i * 70, y: 4, width: 12, height: 12, fill: COLORS.both, "fill-opacity": shade }));
      chart.append(svg("text", { x: left + i * 70 + 16, y: 14 }, week.slice(5)));
    });
    if (!people.length) {
      chart.append(svg("text", { x: left, y: top + 16 }, "Nobody was asked in these weeks"));
      return;
    }
    people.forEach((p, row) => {
      const y = top + row * rowH;
      chart.append(svg("text", { x: left - 8, y: y + 15, "text-anchor": "end" }, p.name));
      let x = left;
      p.asks.forEach((count, i) => {
        if (!count) return;
        const w = (width * count) / max;
        const shade = 0.35 + (0.65 * (i + 1)) / asks.weeks.length;
        const bar = svg("rect", { x, y: y + 3, width: w, height: rowH - 8, fill: COLORS.both, "fill-opacity": shade, class: "bar" });
        bar.append(svg("title", {}, isolated(p.name) + ", " + asks.weeks[i] + ": " + count + " asks"));
        chart.append(bar);
        x += w;
      });
      chart.append(svg("text", { x: x + 6, y: y + 15, class: "total" }, String(p.total)));
    });
  }

  function render(data) {
    drawGraph(data);
    table("givers", [["Person"], ["Given", "num"], ["Answers", "num"]],
      data.top_givers.map((n) => [[n.name], [num(n.given), "num"], [n.given_count, "num"]]), "Nobody has given a favour yet");
    table("takers", [["Person"], ["Received", "num"]],
      data.only_take.map((n) => [[n.name], [num(n.received), "num"]]), "Nobody only takes");
    table("topics", [["Topic"], ["Who covers it"]],
      data.topics.map((t) => [[t.topic], [t.experts.map((e) => isolated(e.name) + " (" + e.evidence + ")").join(", ")]]), "No topics yet");
    table("unanswered", [["Question"], ["Asked by"], ["People asked", "num"]],
      data.unanswered.map((q) => [[q.text], [q.asker], [q.people_asked, "num"]]), "Every question has an answer");
    drawAsks(data.asks);
    $("content").hidden = false;
  }

  async function load(key) {
    $("error").hidden = true;
    let response;
    try {
      response = await fetch("/v1/network/overview", { headers: { Authorization: "Bearer " + key, Accept: "application/json" } });
    } catch (_) {
      $("error").textContent = "The server cannot be reached.";
      $("error").hidden = false;
      return;
    }
    const data = await response.json().catch(() => null);
    if (!response.ok) {
      $("error").textContent = (data && data.detail) || "The server said " + response.status;
      $("error").hidden = false;
      return;
    }
    sessionStorage.setItem(KEY, key);
    render(data);
  }

  $("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const key = $("key").value.trim();
    if (key) load(key);
  });
  const saved = sessionStorage.getItem(KEY);
  if (saved) load(saved);
})();
