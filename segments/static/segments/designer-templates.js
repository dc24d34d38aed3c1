/*
 * The segment designer's template picker (loaded before designer.js): a dialog with a
 * search box, the templates by category, an information panel showing the chosen
 * one's description, and Select or Cancel. Templates a compound segment cannot hold
 * (profile or behavior blocks) are not offered while Kind is Compound.
 */
(function () {
  "use strict";
  const SD = window.SegmentDesigner;
  const {el, button} = SD;
  const COMPOUND_KINDS = ["segment", "list", "group"];

  function fitsCompound(blocks) {
    return Array.isArray(blocks) && blocks.every((block) =>
      COMPOUND_KINDS.includes(block.kind) && (block.kind !== "group" || fitsCompound(block.blocks)));
  }

  SD.templateApplies = function (template, kind) {
    return kind !== "compound" || fitsCompound(template.definition && template.definition.blocks);
  };

  SD.TemplatePicker = class TemplatePicker {
    // templates: [{id, name, category, description, definition}]; kind(): the segment's
    // kind now; apply(template): called on Select.
    constructor(templates, kind, apply) {
      this.templates = templates;
      this.kind = kind;
      this.apply = apply;
      this.chosen = null;
      this.opener = button("Start from a template…", () => this.open(), {class: "sd-button sd-template-open"});
      this.search = el("input", {type: "search", class: "sd-template-search", placeholder: "Search templates", "aria-label": "Search templates"});
      this.search.addEventListener("input", () => this.renderList());
      this.list = el("ul", {class: "sd-template-list"});
      this.info = el("div", {class: "sd-template-info", "aria-live": "polite"});
      this.empty = el("p", {class: "help sd-template-empty", hidden: true});
      this.select = button("Select", () => this.choose(), {class: "sd-button sd-template-select", disabled: true});
      this.dialog = el("dialog", {class: "sd-template-dialog", "aria-label": "Start from a template"},
        el("h2", {text: "Start from a template"}),
        this.search,
        el("div", {class: "sd-template-body"}, el("div", {class: "sd-template-choices"}, this.list, this.empty), this.info),
        el("div", {class: "sd-template-actions"}, this.select, button("Cancel", () => this.dialog.close(), {class: "sd-button sd-template-cancel"})),
      );
    }

    attach(container) {
      container.append(this.dialog);
    }

    open() {
      this.search.value = "";
      this.pick(null);
      this.renderList();
      this.dialog.showModal();
      this.search.focus();
    }

    offered() {
      const words = this.search.value.trim().toLowerCase().split(/\s+/).filter(Boolean);
      return this.templates.filter((template) => {
        if (!SD.templateApplies(template, this.kind())) return false;
        const text = [template.name, template.category, template.description].join(" ").toLowerCase();
        return words.every((word) => text.includes(word));
      });
    }

    renderList() {
      const offered = this.offered();
      const groups = {};
      for (const template of offered) (groups[template.category || "Templates"] ||= []).push(template);
      this.list.replaceChildren(...Object.entries(groups).map(([category, templates]) =>
        el("li", {class: "sd-template-category"}, el("h3", {text: category}),
          el("ul", {}, ...templates.map((template) => el("li", {},
            button(template.name, () => this.pick(template), {
              class: "sd-template-option", "aria-pressed": String(this.chosen === template),
            })))))));
      if (this.chosen && !offered.includes(this.chosen)) this.pick(null);
      this.empty.hidden = offered.length > 0;
      this.empty.textContent = this.kind() === "compound" && !this.search.value.trim()
        ? "No template applies to a compound segment."
        : "No template matches the search.";
    }

    pick(template) {
      this.chosen = template;
      this.select.disabled = !template;
      for (const option of this.list.querySelectorAll(".sd-template-option")) {
        option.setAttribute("aria-pressed", String(template !== null && option.textContent === template.name));
      }
      this.info.replaceChildren(...(template ? [
        el("h3", {text: template.name}),
        template.category ? el("p", {class: "sd-template-meta", text: template.category}) : "",
        el("p", {class: "sd-template-description", text: template.description || "No description."}),
      ] : [el("p", {class: "help", text: "Choose a template to see what it selects."})]));
    }

    choose() {
      if (!this.chosen) return;
      this.dialog.close();
      this.apply(this.chosen);
    }
  };
})();
