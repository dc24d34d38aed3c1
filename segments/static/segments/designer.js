/*
 * The segment designer: a visual editor for a segment definition (or, on the
 * "by query" pages, for one profile condition).
 *
 * The textarea it sits on stays the source of truth: every edit is written back
 * to it as JSON, and editing the JSON (behind "Show JSON") redraws the designer.
 * Every node carries a data-path like "blocks[1].where.all[0]", the same path the
 * server names in its validation errors, so each error is shown next to its part.
 */
(function () {
  "use strict";
  const JOIN_LABELS = {or: "or", and_also: "and also", but_not: "but not"};
  const KIND_LABELS = {
    profile: "Contacts whose profile matches",
    behavior: "Contacts who did something",
    segment: "Members of a segment",
    list: "Subscribers of a list",
  };
  const COUNT_LABELS = {eq: "exactly", gte: "at least", lte: "at most", between: "between"};
  const NUMERIC = ["number", "decimal"];
  const DATES = ["date", "datetime"];

  // --- small helpers -------------------------------------------------------

  function el(tag, attrs, ...children) {
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
  }

  function button(label, onclick, attrs) {
    return el("button", {type: "button", class: "sd-button", onclick, ...(attrs || {})}, label);
  }

  function select(options, value, onchange, attrs) {
    const node = el("select", {onchange: (event) => onchange(event.target.value), ...(attrs || {})});
    for (const option of options) {
      if (option.group) {
        const group = el("optgroup", {label: option.group});
        option.options.forEach((item) => group.append(el("option", {value: item.value}, item.label)));
        node.append(group);
      } else {
        node.append(el("option", {value: option.value}, option.label));
      }
    }
    node.value = value === undefined || value === null ? "" : String(value);
    return node;
  }

  function isObject(value) {
    return value !== null && typeof value === "object" && !Array.isArray(value);
  }

  function pathString(tokens) {
    return tokens
      .map((token, index) => (typeof token === "number" ? `[${token}]` : index ? `.${token}` : token))
      .join("");
  }

  function parentPath(path) {
    const match = path.match(/^(.*?)(\.[^.[\]]+|\[\d+\])$/);
    return match ? match[1] : "";
  }

  function getAt(root, tokens) {
    return tokens.reduce((node, token) => (node === undefined ? undefined : node[token]), root);
  }

  function setAt(root, tokens, value) {
    getAt(root, tokens.slice(0, -1))[tokens[tokens.length - 1]] = value;
  }

  function clone(value) {
    return JSON.parse(JSON.stringify(value));
  }

  // --- the designer ----------------------------------------------------------

  class Designer {
    constructor(container) {
      this.container = container;
      this.config = JSON.parse(document.getElementById(container.dataset.config).textContent);
      this.registry = this.config.registry;
      this.textarea = document.getElementById(container.dataset.designerFor);
      this.jsonBox = container.querySelector(".sd-json");
      this.kindSelect = this.config.kind ? null : document.getElementById("id_kind");
      this.errors = this.config.errors || [];
      this.state = this.load(this.textarea.value);
      if (this.state === undefined) {
        this.state = this.fresh();
        this.write();
      }
      this.buildChrome();
      this.setJsonVisible(this.unrenderable());
      this.render();
    }

    // State <-> textarea. In condition mode the state is {where: condition}, so that
    // paths start with "where" exactly as the server names them.
    load(text) {
      if (!text.trim()) return undefined;
      try {
        const parsed = JSON.parse(text);
        if (parsed === null) return undefined;  // an empty field, as Django renders it
        return this.config.mode === "condition" ? {where: parsed} : parsed;
      } catch (error) {
        return null;
      }
    }

    write() {
      const value = this.config.mode === "condition" ? this.state.where : this.state;
      this.textarea.value = JSON.stringify(value, null, 2);
    }

    fresh() {
      if (this.config.mode === "condition") return {where: {all: [this.newLeaf(false)]}};
      return {version: 1, blocks: [this.newBlock(this.kind() === "compound" ? "segment" : "profile")]};
    }

    kind() {
      return this.config.kind || (this.kindSelect && this.kindSelect.value) || "dynamic";
    }

    commit(structural) {
      this.write();
      if (structural) {
        this.errors = [];
        this.render();
      }
    }

    unrenderable() {
      if (this.config.mode === "condition") return !isObject(this.state && this.state.where);
      return !isObject(this.state) || !Array.isArray(this.state.blocks);
    }

    // --- chrome: toolbar, JSON toggle, estimate ---------------------------------

    buildChrome() {
      this.toolbar = el("div", {class: "sd-toolbar"});
      if (this.config.templates.length) this.toolbar.append(this.templatePicker());
      this.jsonToggle = button("Show JSON", () => this.setJsonVisible(this.jsonBox.hidden), {class: "sd-button sd-json-toggle"});
      this.toolbar.append(this.jsonToggle);
      // No estimate URL: the user may not count contacts, so there is no button.
      if (this.config.mode === "definition" && this.config.estimateUrl) {
        this.estimateResult = el("output", {class: "sd-estimate-result", "aria-live": "polite"});
        this.toolbar.append(
          button("Get estimated size", () => this.estimate(), {class: "sd-button sd-estimate"}),
          this.estimateResult,
        );
      }
      this.topErrors = el("div", {class: "sd-top-errors"});
      this.editor = el("div", {class: "sd-editor"});
      this.jsonStatus = el("p", {class: "help sd-json-status"});
      this.jsonBox.append(this.jsonStatus);
      this.container.prepend(this.toolbar, this.topErrors, this.editor);
      this.textarea.addEventListener("input", () => this.fromJson());
      if (this.kindSelect) this.kindSelect.addEventListener("change", () => this.kindChanged());
    }

    templatePicker() {
      const groups = {};
      for (const template of this.config.templates) {
        (groups[template.category || "Templates"] ||= []).push({value: template.id, label: template.name});
      }
      const options = [{value: "", label: "Start from a template…"}].concat(
        Object.entries(groups).map(([group, options]) => ({group, options})),
      );
      return select(options, "", (id) => {
        const template = this.config.templates.find((item) => String(item.id) === id);
        if (!template) return;
        this.state = clone(template.definition);
        const name = document.getElementById("id_name");
        if (name && !name.value) name.value = template.name;
        if (this.kindSelect && this.kindSelect.value === "static") this.kindSelect.value = "dynamic";
        this.commit(true);
      }, {class: "sd-template", "aria-label": "Start from a template"});
    }

    setJsonVisible(visible) {
      this.jsonBox.hidden = !visible;
      this.jsonToggle.textContent = visible ? "Hide JSON" : "Show JSON";
      this.jsonToggle.setAttribute("aria-expanded", String(visible));
    }

    fromJson() {
      const parsed = this.load(this.textarea.value);
      if (parsed === undefined) return;
      if (parsed === null) {
        this.jsonStatus.textContent = "This is not valid JSON yet; the designer shows the last valid definition.";
        return;
      }
      this.jsonStatus.textContent = "";
      this.state = parsed;
      this.errors = [];
      this.render();
    }

    kindChanged() {
      const row = this.container.closest(".form-row");
      if (row) row.hidden = this.kind() === "static";
      this.render();
    }

    csrfToken() {
      const input = document.querySelector("input[name=csrfmiddlewaretoken]");
      return input ? input.value : "";
    }

    async estimate() {
      const zone = document.getElementById("id_time_zone");
      this.estimateResult.textContent = "Counting…";
      let response;
      try {
        response = await fetch(this.config.estimateUrl, {
          method: "POST",
          credentials: "same-origin",
          headers: {"Content-Type": "application/json", "X-CSRFToken": this.csrfToken()},
          body: JSON.stringify({
            definition: this.state,
            kind: this.kind(),
            time_zone: zone && zone.value ? zone.value : "UTC",
          }),
        });
      } catch (error) {
        this.estimateResult.textContent = "The estimate could not be fetched; try again.";
        return;
      }
      const data = await response.json().catch(() => ({}));
      if (response.ok) {
        const count = data.count;
        this.estimateResult.textContent = `${count.toLocaleString()} contact${count === 1 ? "" : "s"}`;
        this.errors = [];
      } else {
        this.estimateResult.textContent = data.errors ? "Fix the errors shown to get an estimate." : data.error || "The estimate failed.";
        this.errors = data.errors || [];
      }
      this.showErrors();
    }

    // --- rendering ---------------------------------------------------------------

    render() {
      this.editor.replaceChildren();
      if (this.kind() === "static" && this.config.mode === "definition") {
        this.toolbar.hidden = true;
        this.editor.append(el("p", {class: "help"}, "A static segment has no definition: save it, then add contacts one by one or by query."));
        return;
      }
      this.toolbar.hidden = false;
      if (this.unrenderable()) {
        this.editor.append(el("p", {class: "help"}, "This definition cannot be drawn by the designer; edit it as JSON."));
        this.setJsonVisible(true);
      } else if (this.config.mode === "condition") {
        this.editor.append(this.condition(this.state.where, ["where"], {interaction: false, removable: false}));
      } else {
        this.editor.append(this.blocks());
      }
      this.showErrors();
    }

    blocks() {
      const blocks = this.state.blocks;
      const list = el("ol", {class: "sd-blocks"});
      blocks.forEach((block, index) => list.append(this.block(block, index, blocks.length)));
      const add = button("Add block", () => {
        blocks.push(this.newBlock(this.kind() === "compound" ? "segment" : "profile"));
        this.normalizeJoins();
        this.commit(true);
      }, {class: "sd-button sd-add-block"});
      return el("div", {"data-path": "blocks"}, list, add);
    }

    normalizeJoins() {
      this.state.blocks.forEach((block, index) => {
        if (!isObject(block)) return;
        if (index === 0) delete block.join;
        else if (!block.join) block.join = "and_also";
      });
    }

    newBlock(kind) {
      if (kind === "profile") return {kind, where: {all: [this.newLeaf(false)]}};
      if (kind === "behavior") {
        const first = this.registry.interaction_types[0];
        return {kind, interaction: first ? first.slug : "", count: {op: "gte", value: 1}};
      }
      const options = kind === "segment" ? this.config.segments : this.config.lists;
      return {kind, [kind]: options.length ? options[0].id : null};
    }

    newLeaf(interaction) {
      const field = (interaction ? this.registry.interaction : this.registry.profile)[0];
      const op = field.operators[0];
      const leaf = {field: field.name, op};
      const value = this.defaultValue(op);
      if (value !== undefined) leaf.value = value;
      return leaf;
    }

    block(block, index, count) {
      const path = ["blocks", index];
      const item = el("li", {class: "sd-block", "data-path": pathString(path)});
      if (!isObject(block)) {
        item.append(el("p", {class: "help"}, "This block is not an object; edit it as JSON."));
        return item;
      }
      const header = el("div", {class: "sd-block-header"});
      if (index > 0) {
        const joins = Object.entries(JOIN_LABELS).map(([value, label]) => ({value, label}));
        header.append(select(joins, block.join, (join) => {
          block.join = join;
          this.commit(false);
        }, {class: "sd-join", "aria-label": `How block ${index + 1} combines with the ones before`}));
      }
      const kinds = this.kind() === "compound" ? ["segment", "list"] : Object.keys(KIND_LABELS);
      if (!kinds.includes(block.kind)) kinds.push(block.kind);
      header.append(
        select(kinds.map((kind) => ({value: kind, label: KIND_LABELS[kind] || kind})), block.kind, (kind) => {
          this.state.blocks[index] = {...(block.join ? {join: block.join} : {}), ...this.newBlock(kind)};
          this.commit(true);
        }, {class: "sd-kind", "aria-label": `Kind of block ${index + 1}`}),
        el("span", {class: "sd-spacer"}),
        button("↑", () => this.moveBlock(index, -1), {title: "Move up", "aria-label": "Move block up", disabled: index === 0}),
        button("↓", () => this.moveBlock(index, 1), {title: "Move down", "aria-label": "Move block down", disabled: index === count - 1}),
        button("✕", () => {
          this.state.blocks.splice(index, 1);
          this.normalizeJoins();
          this.commit(true);
        }, {title: "Remove block", "aria-label": "Remove block", class: "sd-button sd-remove"}),
      );
      item.append(header, this.blockBody(block, path));
      return item;
    }

    moveBlock(index, delta) {
      const blocks = this.state.blocks;
      [blocks[index], blocks[index + delta]] = [blocks[index + delta], blocks[index]];
      // A join belongs to the position: the block that lands first loses its join.
      const joins = blocks.map((block) => block.join);
      [joins[index], joins[index + delta]] = [joins[index + delta], joins[index]];
      blocks.forEach((block, i) => (joins[i] ? (block.join = joins[i]) : delete block.join));
      this.normalizeJoins();
      this.commit(true);
    }

    blockBody(block, path) {
      if (block.kind === "profile") {
        if (block.where === undefined) block.where = {all: [this.newLeaf(false)]};
        return this.condition(block.where, [...path, "where"], {interaction: false, removable: false});
      }
      if (block.kind === "behavior") return this.behavior(block, path);
      if (block.kind === "segment" || block.kind === "list") return this.reference(block, path);
      return el("p", {class: "help"}, "Unknown block kind; edit it as JSON.");
    }

    reference(block, path) {
      const kind = block.kind;
      const items = kind === "segment" ? this.config.segments : this.config.lists;
      const options = [{value: "", label: kind === "segment" ? "— choose a live segment —" : "— choose a list —"}].concat(
        items.map((item) => ({value: item.id, label: item.name})),
      );
      if (block[kind] && !items.some((item) => item.id === block[kind])) {
        options.push({value: block[kind], label: `#${block[kind]} (not available)`});
      }
      return el("div", {class: "sd-row", "data-path": pathString([...path, kind])},
        select(options, block[kind], (id) => {
          block[kind] = id ? Number(id) : null;
          this.commit(false);
        }, {class: `sd-${kind}`, "aria-label": kind === "segment" ? "Segment" : "List"}),
      );
    }

    behavior(block, path) {
      const body = el("div", {class: "sd-behavior"});
      body.append(this.interactionType(block, path), this.count(block, path), this.window(block, path));
      if (isObject(block.where)) {
        body.append(el("div", {class: "sd-row sd-label"}, "where the interaction matches"),
          this.condition(block.where, [...path, "where"], {interaction: true, removable: true}));
      } else {
        body.append(button("Add condition on the interaction", () => {
          block.where = {all: [this.newLeaf(true)]};
          this.commit(true);
        }, {class: "sd-button sd-add-where"}));
      }
      return body;
    }

    interactionType(block, path) {
      const types = this.registry.interaction_types;
      const known = types.some((type) => type.slug === block.interaction);
      const custom = el("input", {
        type: "text", class: "sd-custom-type", placeholder: "custom_type_slug", "aria-label": "Custom interaction type",
        value: known ? "" : block.interaction || "",
        oninput: (event) => {
          block.interaction = event.target.value.trim();
          this.commit(false);
        },
      });
      custom.hidden = known;
      const options = types.map((type) => ({value: type.slug, label: type.label}));
      options.push({value: "__custom__", label: "Other (custom type)…"});
      const picker = select(options, known ? block.interaction : "__custom__", (slug) => {
        custom.hidden = slug !== "__custom__";
        block.interaction = slug === "__custom__" ? custom.value.trim() : slug;
        this.commit(false);
      }, {class: "sd-interaction", "aria-label": "Interaction type"});
      return el("div", {class: "sd-row", "data-path": pathString([...path, "interaction"])},
        el("span", {class: "sd-label"}, "Interaction"), picker, custom);
    }

    count(block, path) {
      if (!isObject(block.count)) block.count = {op: "gte", value: 1};
      const count = block.count;
      const row = el("div", {class: "sd-row", "data-path": pathString([...path, "count"])}, el("span", {class: "sd-label"}, "Happened"));
      const ops = Object.entries(COUNT_LABELS).map(([value, label]) => ({value, label}));
      row.append(select(ops, count.op, (op) => {
        count.op = op;
        count.value = op === "between" ? [1, 2] : 1;
        this.commit(true);
      }, {class: "sd-count-op", "aria-label": "Count comparison"}));
      const number = (value, onvalue, label) => el("input", {
        type: "number", min: "0", step: "1", class: "sd-count-value", "aria-label": label, value: value ?? "",
        oninput: (event) => {
          onvalue(event.target.value === "" ? null : Number(event.target.value));
          this.commit(false);
        },
      });
      if (count.op === "between") {
        const range = Array.isArray(count.value) ? count.value : (count.value = [1, 2]);
        row.append(number(range[0], (v) => (range[0] = v), "Fewest times"), " and ",
          number(range[1], (v) => (range[1] = v), "Most times"));
      } else {
        row.append(number(count.value, (v) => (count.value = v), "Number of times"));
      }
      row.append(" times");
      return row;
    }

    window(block, path) {
      const mode = "within" in block ? "within" : "between" in block ? "between" : "";
      const key = mode || "within";
      const row = el("div", {class: "sd-row", "data-path": pathString([...path, key])}, el("span", {class: "sd-label"}, "When"));
      const modes = [{value: "", label: "at any time"}, {value: "within", label: "in the last"}, {value: "between", label: "between dates"}];
      row.append(select(modes, mode, (next) => {
        delete block.within;
        delete block.between;
        if (next === "within") block.within = {amount: 30, unit: "days"};
        if (next === "between") block.between = ["", ""];
        this.commit(true);
      }, {class: "sd-window", "aria-label": "Time window"}));
      if (mode === "within") row.append(...this.relativeInputs(block.within, () => this.commit(false)));
      if (mode === "between") row.append(...this.rangeInputs(block.between, "date", () => this.commit(false)));
      return row;
    }

    // --- conditions ------------------------------------------------------------------

    condition(cond, path, context) {
      if (!isObject(cond)) {
        return el("div", {class: "sd-leaf", "data-path": pathString(path)}, el("p", {class: "help"}, "Not a condition; edit it as JSON."));
      }
      if (Array.isArray(cond.all) || Array.isArray(cond.any)) return this.group(cond, path, context);
      if ("not" in cond) return this.negation(cond, path, context);
      return this.leaf(cond, path, context);
    }

    nodeTools(cond, path, context) {
      const tools = el("span", {class: "sd-node-tools"});
      tools.append(button("Not", () => {
        setAt(this.state, path, {not: cond});
        this.commit(true);
      }, {title: "Negate: match what this does not match", class: "sd-button sd-negate"}));
      if (context.removable) {
        tools.append(button("✕", () => {
          this.removeAt(path);
          this.commit(true);
        }, {title: "Remove condition", "aria-label": "Remove condition", class: "sd-button sd-remove"}));
      }
      return tools;
    }

    removeAt(path) {
      const last = path[path.length - 1];
      const parent = path.slice(0, -1);
      if (typeof last === "number") getAt(this.state, parent).splice(last, 1);
      else if (last === "not") this.removeAt(parent);
      else delete getAt(this.state, parent)[last];
    }

    group(cond, path, context) {
      const key = Array.isArray(cond.all) ? "all" : "any";
      const children = cond[key];
      const node = el("div", {class: "sd-group", "data-path": pathString(path)});
      const header = el("div", {class: "sd-group-header"},
        select([{value: "all", label: "All of"}, {value: "any", label: "Any of"}], key, (next) => {
          setAt(this.state, path, {[next]: children});
          this.commit(true);
        }, {class: "sd-group-op", "aria-label": "Match all or any of these conditions"}),
        el("span", {class: "sd-spacer"}),
        this.nodeTools(cond, path, context));
      const list = el("ul", {class: "sd-conditions"});
      children.forEach((child, index) => {
        const childContext = {interaction: context.interaction, removable: true};
        list.append(el("li", {}, this.condition(child, [...path, key, index], childContext)));
      });
      const footer = el("div", {class: "sd-group-footer"},
        button("Add condition", () => {
          children.push(this.newLeaf(context.interaction));
          this.commit(true);
        }, {class: "sd-button sd-add-condition"}),
        button("Add group", () => {
          children.push({any: [this.newLeaf(context.interaction)]});
          this.commit(true);
        }, {class: "sd-button sd-add-group"}));
      node.append(header, list, footer);
      return node;
    }

    negation(cond, path, context) {
      const node = el("div", {class: "sd-not", "data-path": pathString(path)});
      node.append(el("div", {class: "sd-group-header"},
        el("strong", {}, "Not"),
        el("span", {class: "sd-spacer"}),
        button("Remove “not”", () => {
          setAt(this.state, path, cond.not);
          this.commit(true);
        }, {class: "sd-button sd-unnegate"})));
      // Removing the inner condition removes the whole "not".
      node.append(this.condition(cond.not, [...path, "not"], {...context, removable: context.removable}));
      return node;
    }

    fieldSpec(leaf, interaction) {
      const fixed = interaction ? this.registry.interaction : this.registry.profile;
      const found = fixed.find((field) => field.name === leaf.field);
      if (found) return {type: found.type, custom: null};
      const prefixes = this.registry.json_fields[interaction ? "interaction" : "profile"]
        .slice().sort((a, b) => b.prefix.length - a.prefix.length);
      const name = typeof leaf.field === "string" ? leaf.field : "";
      for (const entry of prefixes) {
        if (name.startsWith(entry.prefix)) {
          const key = name.slice(entry.prefix.length);
          return {type: leaf.type || entry.known[key] || "text", custom: entry.prefix, key};
        }
      }
      return {type: "text", custom: null, unknown: true};
    }

    fieldOptions(interaction, leaf, spec) {
      const fixed = interaction ? this.registry.interaction : this.registry.profile;
      const option = (field) => ({value: field.name, label: field.label});
      const groups = interaction
        ? [{group: "Interaction", options: fixed.map(option)}]
        : [
          {group: "Contact", options: fixed.filter((f) => !f.name.startsWith("account.")).map(option)},
          {group: "Account", options: fixed.filter((f) => f.name.startsWith("account.")).map(option)},
        ];
      const custom = this.registry.json_fields[interaction ? "interaction" : "profile"].map((entry) => ({
        value: `custom:${entry.prefix}`,
        label: `Custom: ${entry.prefix}…`,
      }));
      groups.push({group: "Custom", options: custom});
      if (spec.unknown) groups.push({value: leaf.field, label: `${leaf.field} (unknown)`});
      return groups;
    }

    leaf(leaf, path, context) {
      const interaction = context.interaction;
      const spec = this.fieldSpec(leaf, interaction);
      const node = el("div", {class: "sd-leaf", "data-path": pathString(path)});
      const selected = spec.custom ? `custom:${spec.custom}` : leaf.field;
      const fieldSelect = select(this.fieldOptions(interaction, leaf, spec), selected, (value) => {
        if (value.startsWith("custom:")) {
          leaf.field = value.slice("custom:".length) + (spec.key || "");
          leaf.type = spec.custom ? spec.type : "text";
        } else {
          leaf.field = value;
          delete leaf.type;
        }
        this.fitOperator(leaf, this.fieldSpec(leaf, interaction).type);
        this.commit(true);
      }, {class: "sd-field", "aria-label": "Field"});
      node.append(fieldSelect);
      if (spec.custom) {
        node.append(
          el("input", {
            type: "text", class: "sd-custom-key", placeholder: "key", "aria-label": "Custom field key", value: spec.key,
            oninput: (event) => {
              leaf.field = spec.custom + event.target.value.trim();
              this.commit(false);
            },
          }),
          select(this.registry.json_types.map((type) => ({value: type, label: type})), spec.type, (type) => {
            leaf.type = type;
            this.fitOperator(leaf, type);
            this.commit(true);
          }, {class: "sd-custom-type", "aria-label": "Custom field type"}),
        );
      }
      const ops = this.registry.operators_by_type[spec.type] || [];
      const opOptions = ops.map((op) => ({value: op, label: this.registry.operators[op].label}));
      if (!ops.includes(leaf.op)) opOptions.push({value: leaf.op ?? "", label: `${leaf.op} (not valid here)`});
      node.append(select(opOptions, leaf.op, (op) => {
        const before = this.shape(leaf.op);
        leaf.op = op;
        if (this.shape(op) !== before) this.resetValue(leaf);
        this.commit(true);
      }, {class: "sd-op", "aria-label": "Operator"}));
      node.append(...this.valueInputs(leaf, spec.type), this.nodeTools(leaf, path, context));
      return node;
    }

    shape(op) {
      const operator = this.registry.operators[op];
      return operator ? operator.value : "single";
    }

    defaultValue(op) {
      return {single: "", list: [], range: ["", ""], relative: {amount: 30, unit: "days"}}[this.shape(op)];
    }

    resetValue(leaf) {
      const value = this.defaultValue(leaf.op);
      if (value === undefined) delete leaf.value;
      else leaf.value = value;
    }

    fitOperator(leaf, type) {
      const ops = this.registry.operators_by_type[type] || [];
      if (!ops.includes(leaf.op)) {
        leaf.op = ops[0];
        this.resetValue(leaf);
      } else if (this.shape(leaf.op) !== "none") {
        this.resetValue(leaf);
      }
    }

    inputType(type) {
      if (NUMERIC.includes(type)) return "number";
      if (DATES.includes(type)) return "date";
      return "text";
    }

    convert(raw, type) {
      const text = raw.trim();
      if (NUMERIC.includes(type) && text !== "" && Number.isFinite(Number(text))) return Number(text);
      return text;
    }

    valueInputs(leaf, type) {
      const shape = this.shape(leaf.op);
      const changed = () => this.commit(false);
      if (shape === "none") return [];
      if (shape === "relative") {
        if (!isObject(leaf.value)) leaf.value = {amount: 30, unit: "days"};
        return this.relativeInputs(leaf.value, changed);
      }
      if (shape === "range") {
        if (!Array.isArray(leaf.value)) leaf.value = ["", ""];
        return this.rangeInputs(leaf.value, type, changed);
      }
      if (shape === "list") {
        const items = Array.isArray(leaf.value) ? leaf.value : [];
        return [el("input", {
          type: "text", class: "sd-value sd-value-list", placeholder: "values, separated by commas", "aria-label": "Values",
          value: items.join(", "),
          oninput: (event) => {
            leaf.value = event.target.value.split(",").map((item) => this.convert(item, type)).filter((item) => item !== "");
            changed();
          },
        })];
      }
      return [el("input", {
        type: this.inputType(type), step: NUMERIC.includes(type) ? "any" : null, class: "sd-value", "aria-label": "Value",
        value: leaf.value ?? "",
        oninput: (event) => {
          leaf.value = this.convert(event.target.value, type);
          changed();
        },
      })];
    }

    rangeInputs(range, type, changed) {
      const input = (index, label) => el("input", {
        type: this.inputType(type), step: NUMERIC.includes(type) ? "any" : null, class: "sd-value sd-range", "aria-label": label,
        value: range[index] ?? "",
        oninput: (event) => {
          range[index] = this.convert(event.target.value, type);
          changed();
        },
      });
      return [input(0, "From"), el("span", {}, " and "), input(1, "To")];
    }

    relativeInputs(relative, changed) {
      return [
        el("input", {
          type: "number", min: "0", step: "1", class: "sd-amount", "aria-label": "Amount", value: relative.amount ?? "",
          oninput: (event) => {
            relative.amount = event.target.value === "" ? null : Number(event.target.value);
            changed();
          },
        }),
        select(this.registry.relative_units.map((unit) => ({value: unit, label: unit})), relative.unit, (unit) => {
          relative.unit = unit;
          changed();
        }, {class: "sd-unit", "aria-label": "Unit"}),
      ];
    }

    // --- errors ------------------------------------------------------------------------

    showErrors() {
      this.container.querySelectorAll(".sd-errors").forEach((node) => node.remove());
      this.container.querySelectorAll(".sd-invalid").forEach((node) => node.classList.remove("sd-invalid"));
      for (const error of this.errors) {
        const target = this.nodeFor(error.path) || this.topErrors;
        let list = target.querySelector(":scope > .sd-errors");
        if (!list) {
          list = el("ul", {class: "errorlist sd-errors"});
          target.prepend(list);
        }
        list.append(el("li", {title: error.path}, error.path ? `${error.path}: ${error.message}` : error.message));
        if (target !== this.topErrors) target.classList.add("sd-invalid");
      }
    }

    nodeFor(path) {
      for (let candidate = path; candidate; candidate = parentPath(candidate)) {
        const node = this.editor.querySelector(`[data-path="${CSS.escape(candidate)}"]`);
        if (node) return node;
      }
      return null;
    }
  }

  function start() {
    document.querySelectorAll(".segment-designer[data-config]").forEach((container) => {
      if (container.designer) return;
      container.designer = new Designer(container);
      const row = container.closest(".form-row");
      if (row && container.designer.kind() === "static" && container.designer.kindSelect) row.hidden = true;
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
