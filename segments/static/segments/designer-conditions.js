/*
 * The segment designer, part 2 of 4: conditions (profile conditions, and the "where"
 * of behavior blocks): all/any groups, "not", leaves with their field, operator and
 * value inputs. The methods join the Designer's prototype (see designer.js).
 */
(function () {
  "use strict";
  const SD = window.SegmentDesigner;
  const {el, button, select, isObject, pathString, getAt, setAt, NUMERIC, DATES} = SD;
  let valueLists = 0;  // numbers the datalists of value suggestions, for unique ids

  SD.ConditionEditing = class ConditionEditing {

    condition(cond, path, context) {
      if (!isObject(cond)) {
        return el("div", {class: "sd-leaf", "data-path": pathString(path)}, el("p", {class: "help"}, "Not a condition; edit it as JSON."));
      }
      if (Array.isArray(cond.all) || Array.isArray(cond.any)) return this.conditionGroup(cond, path, context);
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

    conditionGroup(cond, path, context) {
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
      const suggested = this.valueSuggestions(leaf.field);
      const listId = suggested.length ? `sd-values-${++valueLists}` : null;
      const input = el("input", {
        type: this.inputType(type), step: NUMERIC.includes(type) ? "any" : null, class: "sd-value", "aria-label": "Value",
        value: leaf.value ?? "", list: listId,
        oninput: (event) => {
          leaf.value = this.convert(event.target.value, type);
          changed();
        },
      });
      if (!listId) return [input];
      return [input, el("datalist", {id: listId}, ...suggested.map((value) => el("option", {value})))];
    }

    // The usual values of the field in the data, or its choices (see selectors.py).
    valueSuggestions(field) {
      const suggestions = this.config.valueSuggestions || {};
      return Object.prototype.hasOwnProperty.call(suggestions, field) ? suggestions[field] : [];
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
  };
})();
