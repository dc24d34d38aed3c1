/*
 * The segment designer, part 4 of 4: the Designer itself (state, toolbar, JSON, estimate,
 * errors) and start-up. It edits a segment definition (or, on the "by query" pages, one
 * profile condition); designer-blocks.js and designer-conditions.js add the editors.
 *
 * The textarea it sits on stays the source of truth: every edit is written back
 * to it as JSON, and editing the JSON (behind "Show JSON") redraws the designer.
 * Every node carries a data-path like "blocks[1].where.all[0]", the same path the
 * server names in its validation errors, so each error is shown next to its part.
 */
(function () {
  "use strict";
  const SD = window.SegmentDesigner;
  const {el, button, isObject, clone, parentPath} = SD;

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
      if (this.errors.length) this.dropServerErrorList();
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
      if (this.config.mode === "definition" && isObject(this.state) && Array.isArray(this.state.blocks)) {
        // Groups and aggregates need version 2; without them the definition stays version 1.
        this.state.version = SD.usesVersion2(this.state.blocks) ? 2 : 1;
      }
      const value = this.config.mode === "condition" ? this.state.where : this.state;
      this.textarea.value = JSON.stringify(value, null, 2);
    }

    fresh() {
      if (this.config.mode === "condition") return {where: {all: [this.newLeaf(false)]}};
      return {version: 1, blocks: [this.newBlock(this.defaultKind())]};
    }

    kind() {
      return this.config.kind || (this.kindSelect && this.kindSelect.value) || "dynamic";
    }

    commit(structural) {
      this.write();
      this.forgetEstimate();
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
      this.sampleBox = el("div", {class: "sd-sample", hidden: true});
      this.jsonStatus = el("p", {class: "help sd-json-status"});
      this.jsonBox.append(this.jsonStatus);
      this.container.prepend(this.toolbar, this.sampleBox, this.topErrors, this.editor);
      this.textarea.addEventListener("input", () => this.fromJson());
      if (this.kindSelect) this.kindSelect.addEventListener("change", () => this.kindChanged());
    }

    templatePicker() {
      const picker = new SD.TemplatePicker(this.config.templates, () => this.kind(), (template) => this.applyTemplate(template));
      picker.attach(this.container);
      return picker.opener;
    }

    // A template fills the designer, and the name and description unless typed already
    // (a description an earlier template filled is replaced).
    applyTemplate(template) {
      this.state = clone(template.definition);
      const name = document.getElementById("id_name");
      if (name && !name.value) name.value = template.name;
      const description = document.getElementById("id_description");
      if (description && (!description.value || description.value === this.templateDescription)) {
        description.value = template.description || "";
        this.templateDescription = description.value;
      }
      if (this.kindSelect && this.kindSelect.value === "static") this.kindSelect.value = "dynamic";
      this.commit(true);
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
      this.forgetEstimate();
      this.render();
    }

    kindChanged() {
      const row = this.container.closest(".form-row");
      if (row) row.hidden = this.kind() === "static";
      if (this.kind() === "compound" && this.config.mode === "definition") this.keepCompoundBlocks();
      this.forgetEstimate();
      this.errors = [];
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
        this.estimateResult.textContent = `Total: ${SD.contacts(data.count)}`;
        this.funnel = data.blocks || null;
        this.showFunnel();
        this.showSample(data.sample || [], data.count);
        this.errors = [];
      } else {
        this.forgetEstimate();
        this.estimateResult.textContent = data.errors ? "Fix the errors shown to get an estimate." : data.error || "The estimate failed.";
        this.errors = data.errors || [];
      }
      this.showErrors();
    }

    // --- the estimate's answer: a funnel beside the blocks, and a sample of who -------

    // Counts and sample describe the definition as it was counted: any edit drops them.
    forgetEstimate() {
      this.funnel = null;
      if (this.estimateResult) this.estimateResult.textContent = "";
      if (this.sampleBox) this.sampleBox.hidden = true;
      this.showFunnel();
    }

    showFunnel() {
      this.editor.querySelectorAll(".sd-block-count").forEach((node) => node.remove());
      (this.funnel || []).forEach((count, index) => {
        const header = this.editor.querySelector(`[data-path="blocks[${index}]"] > .sd-block-header`);
        if (!header) return;
        header.querySelector(".sd-spacer").before(el("output", {
          class: "sd-block-count",
          title: index ? `Contacts selected by blocks 1 to ${index + 1}` : "Contacts selected by block 1",
        }, `→ ${SD.contacts(count)}`));
      });
    }

    showSample(sample, count) {
      const url = this.config.contactUrl;
      const items = sample.map((contact) => el("li", {},
        url ? el("a", {href: url.replace("__id__", contact.id)}, contact.email) : contact.email,
        contact.name ? ` — ${contact.name}` : ""));
      const heading = count > sample.length
        ? `The first ${sample.length} of ${SD.contacts(count)}:`
        : `${sample.length === 1 ? "The only one" : `All ${sample.length} of them`}:`;
      this.sampleBox.replaceChildren(
        el("h3", {}, sample.length ? heading : "No contact matches this definition yet."),
        sample.length ? el("ul", {class: "sd-sample-list"}, ...items) : null,
      );
      this.sampleBox.hidden = false;
    }

    // A compound segment combines segments and lists: profile and behavior blocks go,
    // at any depth; an empty list gets a fresh block of what it allows.
    keepCompoundBlocks() {
      const keep = (blocks) => {
        const kept = blocks.filter((block) => isObject(block) && ["segment", "list", "group"].includes(block.kind));
        kept.forEach((block) => {
          if (block.kind === "group") block.blocks = keep(Array.isArray(block.blocks) ? block.blocks : []);
        });
        if (!kept.length) kept.push(this.newBlock("segment"));
        this.normalizeJoins(kept);
        return kept;
      };
      if (this.unrenderable()) return;
      this.state.blocks = keep(this.state.blocks);
      this.write();
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
        this.editor.append(this.blockList(this.state.blocks, ["blocks"], 0, ""));
      }
      this.showFunnel();
      this.showErrors();
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
        const where = SD.pathInWords(this.state, error.path, this.registry);
        list.append(el("li", {title: error.path}, where ? `${where}: ${error.message}` : error.message));
        if (target !== this.topErrors) target.classList.add("sd-invalid");
      }
    }

    // The form lists the same problems above the field for pages without scripts; the
    // designer shows each beside its part instead, so each is shown once.
    dropServerErrorList() {
      const row = this.container.closest(".form-row");
      if (!row) return;
      row.querySelectorAll("ul.errorlist").forEach((list) => {
        if (!this.container.contains(list)) list.remove();
      });
    }

    nodeFor(path) {
      for (let candidate = path; candidate; candidate = parentPath(candidate)) {
        const node = this.editor.querySelector(`[data-path="${CSS.escape(candidate)}"]`);
        if (node) return node;
      }
      return null;
    }
  }

  // The editors of blocks and conditions, each in its own file, join the prototype.
  for (const part of [SD.BlockEditing, SD.ConditionEditing]) {
    for (const name of Object.getOwnPropertyNames(part.prototype)) {
      if (name !== "constructor") Designer.prototype[name] = part.prototype[name];
    }
  }
  SD.Designer = Designer;

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
