/*
 * The segment designer, part 3 of 4: blocks. A list of blocks (the definition's, or a
 * group's own) combines left to right; each block has its join, its kind and its body:
 * a profile condition, a behavior (count or aggregate, window, where), a segment or
 * list reference, or a group with blocks of its own (nesting at most max_depth deep).
 * The methods join the Designer's prototype (see designer.js).
 */
(function () {
  "use strict";
  const SD = window.SegmentDesigner;
  const {el, button, select, options, isObject, pathString, JOIN_LABELS, KIND_LABELS} = SD;
  let datalists = 0;  // numbers the datalists of property suggestions, for unique ids

  SD.BlockEditing = class BlockEditing {
    // --- lists of blocks ---------------------------------------------------------------

    // blocks: the array; path: its tokens (["blocks"], or a group's [..., "blocks"]);
    // depth: how many groups it is inside; label: the position shown in aria labels.
    blockList(blocks, path, depth, label) {
      const list = el("ol", {class: "sd-blocks"});
      blocks.forEach((block, index) => list.append(this.block(blocks, index, path, depth, label)));
      const add = button(depth ? "Add block to group" : "Add block", () => {
        blocks.push(this.newBlock(this.defaultKind()));
        this.normalizeJoins(blocks);
        this.commit(true);
      }, {class: "sd-button sd-add-block"});
      return el("div", {class: depth ? "sd-group-blocks" : null, "data-path": pathString(path)}, list, add);
    }

    defaultKind() {
      return this.kind() === "compound" ? "segment" : "profile";
    }

    normalizeJoins(blocks) {
      blocks.forEach((block, index) => {
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
      if (kind === "group") return {kind, blocks: [this.newBlock(this.defaultKind())]};
      const items = kind === "segment" ? this.config.segments : this.config.lists;
      return {kind, [kind]: items.length ? items[0].id : null};
    }

    newLeaf(interaction) {
      const field = (interaction ? this.registry.interaction : this.registry.profile)[0];
      const op = field.operators[0];
      const leaf = {field: field.name, op};
      const value = this.defaultValue(op);
      if (value !== undefined) leaf.value = value;
      return leaf;
    }

    kindsAt(depth) {
      const kinds = this.kind() === "compound" ? ["segment", "list", "group"] : Object.keys(KIND_LABELS);
      // A group inside the deepest group would be refused.
      return depth < this.registry.group.max_depth ? kinds : kinds.filter((kind) => kind !== "group");
    }

    block(blocks, index, listPath, depth, listLabel) {
      const block = blocks[index];
      const path = [...listPath, index];
      const label = listLabel ? `${listLabel}.${index + 1}` : String(index + 1);
      const item = el("li", {class: `sd-block${block && block.kind === "group" ? " sd-block-group" : ""}`, "data-path": pathString(path)});
      if (!isObject(block)) {
        item.append(el("p", {class: "help"}, "This block is not an object; edit it as JSON."));
        return item;
      }
      const header = el("div", {class: "sd-block-header"});
      if (index > 0) {
        header.append(select(options(JOIN_LABELS), block.join, (join) => {
          block.join = join;
          this.commit(false);
        }, {class: "sd-join", "aria-label": `How block ${label} combines with the ones before`}));
      }
      const kinds = this.kindsAt(depth);
      if (!kinds.includes(block.kind)) kinds.push(block.kind);
      header.append(
        select(kinds.map((kind) => ({value: kind, label: KIND_LABELS[kind] || kind})), block.kind, (kind) => {
          blocks[index] = {...(block.join ? {join: block.join} : {}), ...this.newBlock(kind)};
          this.commit(true);
        }, {class: "sd-kind", "aria-label": `Kind of block ${label}`}),
        el("span", {class: "sd-spacer"}),
        button("↑", () => this.moveBlock(blocks, index, -1), {title: "Move up", "aria-label": `Move block ${label} up`, disabled: index === 0}),
        button("↓", () => this.moveBlock(blocks, index, 1), {title: "Move down", "aria-label": `Move block ${label} down`, disabled: index === blocks.length - 1}),
        button("✕", () => {
          blocks.splice(index, 1);
          this.normalizeJoins(blocks);
          this.commit(true);
        }, {title: "Remove block", "aria-label": `Remove block ${label}`, class: "sd-button sd-remove"}),
      );
      item.append(header, this.blockBody(block, path, depth, label));
      return item;
    }

    moveBlock(blocks, index, delta) {
      [blocks[index], blocks[index + delta]] = [blocks[index + delta], blocks[index]];
      // A join belongs to the position: the block that lands first loses its join.
      const joins = blocks.map((block) => block.join);
      [joins[index], joins[index + delta]] = [joins[index + delta], joins[index]];
      blocks.forEach((block, i) => (joins[i] ? (block.join = joins[i]) : delete block.join));
      this.normalizeJoins(blocks);
      this.commit(true);
    }

    blockBody(block, path, depth, label) {
      if (block.kind === "profile") {
        if (block.where === undefined) block.where = {all: [this.newLeaf(false)]};
        return this.condition(block.where, [...path, "where"], {interaction: false, removable: false});
      }
      if (block.kind === "behavior") return this.behavior(block, path);
      if (block.kind === "segment" || block.kind === "list") return this.reference(block, path);
      if (block.kind === "group") {
        if (!Array.isArray(block.blocks)) return el("p", {class: "help"}, "This group has no list of blocks; edit it as JSON.");
        return this.blockList(block.blocks, [...path, "blocks"], depth + 1, label);
      }
      return el("p", {class: "help"}, "Unknown block kind; edit it as JSON.");
    }

    reference(block, path) {
      const kind = block.kind;
      const items = kind === "segment" ? this.config.segments : this.config.lists;
      const choices = [{value: "", label: kind === "segment" ? "— choose a live segment —" : "— choose a list —"}].concat(
        items.map((item) => ({value: item.id, label: item.name})),
      );
      if (block[kind] && !items.some((item) => item.id === block[kind])) {
        choices.push({value: block[kind], label: `#${block[kind]} (not available)`});
      }
      return el("div", {class: "sd-row", "data-path": pathString([...path, kind])},
        select(choices, block[kind], (id) => {
          block[kind] = id ? Number(id) : null;
          this.commit(false);
        }, {class: `sd-${kind}`, "aria-label": kind === "segment" ? "Segment" : "List"}),
      );
    }

    // --- behavior blocks ---------------------------------------------------------------

    behavior(block, path) {
      const body = el("div", {class: "sd-behavior"});
      body.append(this.interactionType(block, path), this.measure(block, path));
      body.append(isObject(block.aggregate) ? this.aggregate(block, path) : this.count(block, path));
      body.append(this.window(block, path));
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
      const types = this.registry.interaction_types.concat(this.config.customTypes || []);
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
      const choices = types.map((type) => ({value: type.slug, label: type.label}));
      choices.push({value: "__custom__", label: "Other (custom type)…"});
      const picker = select(choices, known ? block.interaction : "__custom__", (slug) => {
        custom.hidden = slug !== "__custom__";
        block.interaction = slug === "__custom__" ? custom.value.trim() : slug;
        // The property suggestions follow the type.
        this.commit(isObject(block.aggregate));
      }, {class: "sd-interaction", "aria-label": "Interaction type"});
      return el("div", {class: "sd-row", "data-path": pathString([...path, "interaction"])},
        el("span", {class: "sd-label"}, "Interaction"), picker, custom);
    }

    // "Happened at least N times" or "Total / average / smallest / largest of <property>".
    measure(block, path) {
      const current = isObject(block.aggregate) ? block.aggregate.fn : "count";
      return el("div", {class: "sd-row"}, el("span", {class: "sd-label"}, "Measure"),
        select(options(SD.MEASURE_LABELS), current, (measure) => {
          if (measure === "count") {
            delete block.aggregate;
            block.count = {op: "gte", value: 1};
          } else if (isObject(block.aggregate)) {
            block.aggregate.fn = measure;
          } else {
            delete block.count;
            const key = this.numericProperties(block.interaction)[0] || "";
            block.aggregate = {fn: measure, field: `${this.aggregatePrefix()}${key}`, op: "gte", value: 0};
          }
          this.commit(true);
        }, {class: "sd-measure", "aria-label": "What to measure"}));
    }

    count(block, path) {
      if (!isObject(block.count)) block.count = {op: "gte", value: 1};
      const count = block.count;
      const row = el("div", {class: "sd-row", "data-path": pathString([...path, "count"])}, el("span", {class: "sd-label"}, "Happened"));
      row.append(select(options(SD.COUNT_LABELS), count.op, (op) => {
        count.op = op;
        count.value = op === "between" ? [1, 2] : 1;
        this.commit(true);
      }, {class: "sd-count-op", "aria-label": "Count comparison"}));
      const attrs = {min: "0", step: "1", class: "sd-count-value"};
      row.append(...this.numberInputs(count, attrs, ["Number of times", "Fewest times", "Most times"], [1, 2]), " times");
      return row;
    }

    aggregatePrefix() {
      return this.registry.aggregate.field_prefix;
    }

    numericProperties(type) {
      return (this.config.numericProperties || {})[type] || [];
    }

    aggregate(block, path) {
      const aggregate = block.aggregate;
      const aggregatePath = [...path, "aggregate"];
      const prefix = this.aggregatePrefix();
      const field = typeof aggregate.field === "string" ? aggregate.field : "";
      const listId = `sd-properties-${++datalists}`;
      const suggestions = el("datalist", {id: listId},
        ...this.numericProperties(block.interaction).map((key) => el("option", {value: key})));
      const key = el("input", {
        type: "text", class: "sd-aggregate-key", placeholder: "amount", list: listId, "aria-label": "Property key",
        value: field.startsWith(prefix) ? field.slice(prefix.length) : field,
        oninput: (event) => {
          aggregate.field = prefix + event.target.value.trim();
          this.commit(false);
        },
      });
      const row = el("div", {class: "sd-row sd-aggregate", "data-path": pathString(aggregatePath)},
        el("span", {class: "sd-label"}, "Of"),
        el("span", {class: "sd-field-prefix", "data-path": pathString([...aggregatePath, "field"])}, prefix, key, suggestions),
        el("span", {}, "is"));
      row.append(select(options(SD.COMPARISON_LABELS), aggregate.op, (op) => {
        const wasRange = aggregate.op === "between";
        aggregate.op = op;
        if (wasRange !== (op === "between")) aggregate.value = op === "between" ? [0, 100] : 0;
        this.commit(true);
      }, {class: "sd-aggregate-op", "aria-label": "Comparison"}));
      const attrs = {step: "any", class: "sd-aggregate-value"};
      row.append(...this.numberInputs(aggregate, attrs, ["Number", "Lowest", "Highest"], [0, 100]));
      return row;
    }

    // The value of a count or aggregate {op, value}: one number, or two for "between".
    numberInputs(holder, attrs, [label, lowLabel, highLabel], emptyRange) {
      if (holder.op !== "between") return [this.numberInput(holder, "value", {...attrs, "aria-label": label})];
      const range = Array.isArray(holder.value) ? holder.value : (holder.value = emptyRange);
      return [this.numberInput(range, 0, {...attrs, "aria-label": lowLabel}), " and ",
        this.numberInput(range, 1, {...attrs, "aria-label": highLabel})];
    }

    // A number input bound to holder[key]; cleared, it writes null for the server to name.
    numberInput(holder, key, attrs) {
      return el("input", {
        type: "number", ...attrs, value: holder[key] ?? "",
        oninput: (event) => {
          holder[key] = event.target.value === "" ? null : Number(event.target.value);
          this.commit(false);
        },
      });
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
  };

})();
