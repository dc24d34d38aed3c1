/*
 * The segment designer, part 1 of 4: the namespace every part shares, constants and
 * small DOM and path helpers. Loaded first; designer-conditions.js, designer-blocks.js
 * and designer.js (start-up) follow, in that order.
 */
(function () {
  "use strict";
  const SD = (window.SegmentDesigner = window.SegmentDesigner || {});

  SD.JOIN_LABELS = {or: "or", and_also: "and also", but_not: "but not"};
  SD.KIND_LABELS = {
    profile: "Contacts whose profile matches",
    behavior: "Contacts who did something",
    segment: "Members of a segment",
    list: "Subscribers of a list",
    group: "A group of blocks (combined first, as in brackets)",
  };
  SD.COUNT_LABELS = {eq: "exactly", gte: "at least", lte: "at most", between: "between"};
  // A behavior block measures how many times, or an aggregate of a number property.
  SD.MEASURE_LABELS = {
    count: "Happened … times",
    sum: "Total of a property",
    avg: "Average of a property",
    min: "Smallest value of a property",
    max: "Largest value of a property",
  };
  SD.COMPARISON_LABELS = {
    eq: "exactly", gt: "more than", gte: "at least", lt: "less than", lte: "at most", between: "between",
  };
  SD.NUMERIC = ["number", "decimal"];
  SD.DATES = ["date", "datetime"];

  SD.el = function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key === "text") node.textContent = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else if (key === "value") node.value = value;
      else node.setAttribute(key, value === true ? "" : value);
    }
    node.append(...children.filter((child) => child !== null && child !== undefined));
    return node;
  };

  SD.button = function button(label, onclick, attrs) {
    return SD.el("button", {type: "button", class: "sd-button", onclick, ...(attrs || {})}, label);
  };

  SD.select = function select(options, value, onchange, attrs) {
    const node = SD.el("select", {onchange: (event) => onchange(event.target.value), ...(attrs || {})});
    for (const option of options) {
      if (option.group) {
        const group = SD.el("optgroup", {label: option.group});
        option.options.forEach((item) => group.append(SD.el("option", {value: item.value}, item.label)));
        node.append(group);
      } else {
        node.append(SD.el("option", {value: option.value}, option.label));
      }
    }
    node.value = value === undefined || value === null ? "" : String(value);
    return node;
  };

  SD.options = function options(labels) {
    return Object.entries(labels).map(([value, label]) => ({value, label}));
  };

  SD.contacts = function contacts(count) {
    return `${count.toLocaleString()} contact${count === 1 ? "" : "s"}`;
  };

  SD.isObject = function isObject(value) {
    return value !== null && typeof value === "object" && !Array.isArray(value);
  };

  SD.pathString = function pathString(tokens) {
    return tokens
      .map((token, index) => (typeof token === "number" ? `[${token}]` : index ? `.${token}` : token))
      .join("");
  };

  SD.parentPath = function parentPath(path) {
    const match = path.match(/^(.*?)(\.[^.[\]]+|\[\d+\])$/);
    return match ? match[1] : "";
  };

  SD.getAt = function getAt(root, tokens) {
    return tokens.reduce((node, token) => (node === undefined ? undefined : node[token]), root);
  };

  SD.setAt = function setAt(root, tokens, value) {
    SD.getAt(root, tokens.slice(0, -1))[tokens[tokens.length - 1]] = value;
  };

  // Behavior block parts an error may name, in words.
  SD.PART_LABELS = {
    count: "how many times", within: "time window", between: "time window", interaction: "interaction",
    aggregate: "aggregate", segment: "segment", list: "list", join: "join", kind: "kind", blocks: "blocks",
  };

  // Where a server error points, in words: the field's label ("Lead score", with "low"
  // or "high" for a range's end), else the block ("Block 2, time window"); "" for the whole.
  SD.pathInWords = function pathInWords(root, path, registry) {
    const tokens = [...String(path || "").matchAll(/([^.[\]]+)|\[(\d+)\]/g)]
      .map((match) => (match[2] !== undefined ? Number(match[2]) : match[1]));
    const blocks = [];
    let node = root, leaf = null, afterLeaf = [], part = null;
    tokens.forEach((token, index) => {
      if (typeof token === "number" && tokens[index - 1] === "blocks") blocks.push(token + 1);
      else if (typeof token === "string" && token !== "blocks") part = token;
      node = node === undefined || node === null ? undefined : node[token];
      if (SD.isObject(node) && typeof node.field === "string") {
        leaf = node;
        afterLeaf = [];
      } else if (leaf) afterLeaf.push(token);
    });
    if (leaf) {
      const fields = registry.profile.concat(registry.interaction);
      const field = fields.find((item) => item.name === leaf.field);
      const end = afterLeaf[0] === "value" ? {0: " (low)", 1: " (high)"}[afterLeaf[1]] || "" : "";
      return (field ? field.label : leaf.field) + end;
    }
    if (!blocks.length) return "";
    const label = `Block ${blocks.join(".")}`;
    return part && SD.PART_LABELS[part] ? `${label}, ${SD.PART_LABELS[part]}` : label;
  };

  SD.clone = function clone(value) {
    return JSON.parse(JSON.stringify(value));
  };

  // Whether blocks use what only version 2 has: a group, or an aggregate.
  SD.usesVersion2 = function usesVersion2(blocks) {
    return Array.isArray(blocks) && blocks.some((block) => SD.isObject(block) && (
      block.kind === "group" || "aggregate" in block || SD.usesVersion2(block.blocks)));
  };
})();
