/*
 * Membership over time: a line of the segment's size after each evaluation, with
 * bars for contacts added (up) and removed (down). Plain SVG, colours from CSS.
 */
(function () {
  "use strict";
  const SVG = "http://www.w3.org/2000/svg";
  const WIDTH = 800;
  const HEIGHT = 260;
  const PAD = {left: 56, right: 12, top: 12, bottom: 28};

  function svg(tag, attrs, text) {
    const node = document.createElementNS(SVG, tag);
    for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function draw(target, points) {
    const innerW = WIDTH - PAD.left - PAD.right;
    const innerH = HEIGHT - PAD.top - PAD.bottom;
    const maxSize = Math.max(1, ...points.map((p) => p.size));
    const maxChange = Math.max(1, ...points.map((p) => Math.max(p.added, p.removed)));
    const step = innerW / points.length;
    const x = (i) => PAD.left + step * (i + 0.5);
    const y = (size) => PAD.top + innerH - (size / maxSize) * innerH;
    // Bars share the lower third of the chart, around a zero line.
    const zero = PAD.top + innerH * 0.8;
    const barScale = (innerH * 0.18) / maxChange;
    const barW = Math.max(1, Math.min(14, step * 0.35));

    const chart = svg("svg", {viewBox: `0 0 ${WIDTH} ${HEIGHT}`, "aria-hidden": "true"});
    chart.append(
      svg("line", {class: "axis", x1: PAD.left, x2: WIDTH - PAD.right, y1: PAD.top + innerH, y2: PAD.top + innerH}),
      svg("line", {class: "axis", x1: PAD.left, x2: PAD.left, y1: PAD.top, y2: PAD.top + innerH}),
      svg("text", {x: PAD.left - 6, y: PAD.top + 10, "text-anchor": "end"}, maxSize.toLocaleString()),
      svg("text", {x: PAD.left - 6, y: PAD.top + innerH, "text-anchor": "end"}, "0"),
      svg("line", {class: "zero", x1: PAD.left, x2: WIDTH - PAD.right, y1: zero, y2: zero}),
      svg("text", {x: PAD.left - 6, y: zero + 4, "text-anchor": "end"}, "±0"),
    );
    points.forEach((point, i) => {
      const when = new Date(point.at).toLocaleString();
      if (point.added) {
        const h = point.added * barScale;
        const bar = svg("rect", {class: "bar-added", x: x(i) - barW, y: zero - h, width: barW, height: h});
        bar.append(svg("title", {}, `${when}: +${point.added}`));
        chart.append(bar);
      }
      if (point.removed) {
        const h = point.removed * barScale;
        const bar = svg("rect", {class: "bar-removed", x: x(i), y: zero, width: barW, height: h});
        bar.append(svg("title", {}, `${when}: −${point.removed}`));
        chart.append(bar);
      }
    });
    const line = points.map((point, i) => `${i ? "L" : "M"}${x(i).toFixed(1)},${y(point.size).toFixed(1)}`);
    chart.append(svg("path", {class: "size-line", d: line.join(" ")}));
    points.forEach((point, i) => {
      const dot = svg("circle", {class: "size-dot", cx: x(i), cy: y(point.size), r: 3});
      dot.append(svg("title", {}, `${new Date(point.at).toLocaleString()}: ${point.size.toLocaleString()} members`));
      chart.append(dot);
    });
    const first = new Date(points[0].at).toLocaleDateString();
    const last = new Date(points[points.length - 1].at).toLocaleDateString();
    chart.append(
      svg("text", {x: PAD.left, y: HEIGHT - 8}, first),
      svg("text", {x: WIDTH - PAD.right, y: HEIGHT - 8, "text-anchor": "end"}, last),
    );
    target.replaceChildren(chart);
  }

  function start() {
    const data = document.getElementById("segment-insights-data");
    const target = document.getElementById("segment-insights-chart");
    if (data && target) draw(target, JSON.parse(data.textContent));
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
