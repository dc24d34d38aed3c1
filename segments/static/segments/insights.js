/*
 * Membership over time, on a real time axis: a line of the segment's size after each
 * evaluation (or each day), and bars for contacts added (up) and removed (down) from
 * one shared zero line. Sizes read on the left scale, changes on the right one. Every
 * point and bar has a tooltip. Plain SVG; colours from CSS (no inline styles: CSP).
 */
(function () {
  "use strict";
  const SVG = "http://www.w3.org/2000/svg";
  const WIDTH = 800;
  const HEIGHT = 280;
  const PAD = {left: 64, right: 56, top: 14, bottom: 34};
  const DAY = 24 * 3600 * 1000;
  // The zero line sits this far down the plot: sizes and additions above, removals below.
  const ZERO_AT = 0.78;
  const TICK_STEPS = [1, 2, 7, 14, 30, 61, 91, 182, 365].map((days) => days * DAY);
  const MAX_TICKS = 7;

  function svg(tag, attrs, text) {
    const node = document.createElementNS(SVG, tag);
    for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function titled(node, text) {
    node.append(svg("title", {}, text));
    return node;
  }

  const number = (n) => n.toLocaleString();
  const dateTime = (t) => new Date(t).toLocaleString([], {dateStyle: "medium", timeStyle: "short"});
  const dateOnly = (t) => new Date(t).toLocaleDateString([], {month: "short", day: "numeric"});

  // A round maximum for a scale: 1, 2 or 5 times a power of ten.
  function roundUp(value) {
    if (value <= 1) return 1;
    const power = 10 ** Math.floor(Math.log10(value));
    return [1, 2, 5, 10].map((m) => m * power).find((candidate) => candidate >= value);
  }

  // Midnight-aligned date ticks, at most MAX_TICKS of them across [start, end].
  function dateTicks(start, end) {
    const step = TICK_STEPS.find((s) => (end - start) / s <= MAX_TICKS) || TICK_STEPS.at(-1);
    const first = new Date(start);
    first.setHours(0, 0, 0, 0);
    const ticks = [];
    for (let t = first.getTime(); t <= end; t += step) {
      if (t >= start) ticks.push(t);
    }
    return ticks.length ? ticks : [start];
  }

  function draw(target, points, perDay) {
    const times = points.map((p) => new Date(p.at).getTime());
    let start = Math.min(...times);
    let end = Math.max(...times);
    if (end - start < DAY) {
      // One evaluation, or several the same day: a day either side, so the axis reads.
      start -= DAY;
      end += DAY;
    }
    const plotW = WIDTH - PAD.left - PAD.right;
    const plotH = HEIGHT - PAD.top - PAD.bottom;
    const zero = PAD.top + plotH * ZERO_AT;
    const x = (t) => PAD.left + ((t - start) / (end - start)) * plotW;
    const maxSize = roundUp(Math.max(...points.map((p) => p.size)));
    const maxChange = roundUp(Math.max(...points.map((p) => Math.max(p.added, p.removed))));
    const ySize = (size) => zero - (size / maxSize) * (zero - PAD.top);
    // Changes use the band below the zero line, and as much above it.
    const changeH = PAD.top + plotH - zero;
    const hChange = (n) => (n / maxChange) * changeH;

    const chart = svg("svg", {viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: "presentation"});
    // Left scale: members.
    for (const size of [0, maxSize / 2, maxSize]) {
      chart.append(
        svg("line", {class: "grid", x1: PAD.left, x2: WIDTH - PAD.right, y1: ySize(size), y2: ySize(size)}),
        svg("text", {class: "scale-size", x: PAD.left - 6, y: ySize(size) + 4, "text-anchor": "end"}, number(size)),
      );
    }
    // Right scale: contacts added (up) and removed (down), from the same zero.
    chart.append(
      svg("text", {class: "scale-change", x: WIDTH - PAD.right + 6, y: zero - changeH + 4}, `+${number(maxChange)}`),
      svg("text", {class: "scale-change", x: WIDTH - PAD.right + 6, y: zero + changeH}, `−${number(maxChange)}`),
    );
    // Time axis: date ticks.
    for (const tick of dateTicks(start, end)) {
      chart.append(
        svg("line", {class: "tick", x1: x(tick), x2: x(tick), y1: PAD.top + plotH, y2: PAD.top + plotH + 4}),
        svg("text", {class: "date", x: x(tick), y: HEIGHT - 12, "text-anchor": "middle"}, dateOnly(tick)),
      );
    }
    chart.append(
      svg("line", {class: "axis", x1: PAD.left, x2: WIDTH - PAD.right, y1: PAD.top + plotH, y2: PAD.top + plotH}),
    );

    // Bars: as wide as the closest two points allow, 3 to 12 px.
    const gaps = times.slice(1).map((t, i) => x(t) - x(times[i]));
    const barW = Math.max(3, Math.min(12, (Math.min(Infinity, ...gaps) || 24) / 2.5));
    const when = (t) => (perDay ? new Date(t).toLocaleDateString() : dateTime(t));
    points.forEach((point, i) => {
      const left = x(times[i]);
      if (point.added) {
        chart.append(
          titled(
            svg("rect", {class: "bar-added", x: left - barW, y: zero - hChange(point.added), width: barW, height: hChange(point.added)}),
            `${when(times[i])}: ${number(point.added)} added`,
          ),
        );
      }
      if (point.removed) {
        chart.append(
          titled(
            svg("rect", {class: "bar-removed", x: left, y: zero, width: barW, height: hChange(point.removed)}),
            `${when(times[i])}: ${number(point.removed)} removed`,
          ),
        );
      }
    });
    chart.append(svg("line", {class: "zero", x1: PAD.left, x2: WIDTH - PAD.right, y1: zero, y2: zero}));

    const line = points.map((point, i) => `${i ? "L" : "M"}${x(times[i]).toFixed(1)},${ySize(point.size).toFixed(1)}`);
    chart.append(svg("path", {class: "size-line", d: line.join(" ")}));
    const radius = points.length > 60 ? 1.5 : 3.5;
    points.forEach((point, i) => {
      chart.append(
        titled(
          svg("circle", {class: "size-dot", cx: x(times[i]), cy: ySize(point.size), r: radius}),
          `${when(times[i])}: ${number(point.size)} members (+${number(point.added)} / −${number(point.removed)})`,
        ),
      );
    });
    target.replaceChildren(chart);
  }

  function start() {
    const data = document.getElementById("segment-insights-data");
    const target = document.getElementById("segment-insights-chart");
    if (data && target) draw(target, JSON.parse(data.textContent), target.dataset.perDay === "true");
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
