/* The rule form's rows: conditions ("all" and "any") and actions, drawn from the schema the page
 * embeds (#rules-schema: fields with kinds and choices, operators, actions with parameters) and
 * the rows to start with (#rules-rows: the saved rule, or exactly what was posted).
 *
 * Each row posts flat fields the server reads back (tickets/rules/forms.py):
 *   all-<n>-field, all-<n>-operator, all-<n>-value (text) or all-<n>-values (a multiple select),
 *   any-<n>-…, action-<n>-type, action-<n>-<parameter>.
 * Choosing another field redraws the row's operator and value; another action its parameters.
 */
(function () {
  "use strict";

  var form = document.querySelector("[data-rules-form]");
  var schemaNode = document.getElementById("rules-schema");
  var rowsNode = document.getElementById("rules-rows");
  if (!form || !schemaNode || !rowsNode) return;

  var schema = JSON.parse(schemaNode.textContent);
  var initial = JSON.parse(rowsNode.textContent);
  var kind = form.getAttribute("data-kind");
  var texts = schema.texts;
  var fieldsByKey = {};
  schema.fields.forEach(function (field) { fieldsByKey[field.key] = field; });
  var actionsByKey = {};
  schema.actions.forEach(function (action) { actionsByKey[action.key] = action; });
  var counter = 0;

  function make(tag, attributes, children) {
    var node = document.createElement(tag);
    Object.keys(attributes || {}).forEach(function (name) {
      var value = attributes[name];
      if (value === null || value === undefined || value === false) return;
      if (name === "text") node.textContent = value;
      else node.setAttribute(name, value === true ? "" : value);
    });
    (children || []).forEach(function (child) { if (child) node.appendChild(child); });
    return node;
  }

  function selectOf(name, options, selected, attributes) {
    var chosen = Array.isArray(selected) ? selected.map(String) : [selected === null || selected === undefined ? "" : String(selected)];
    var select = make("select", Object.assign({ name: name, "class": "select select--sm" }, attributes || {}));
    var known = false;
    options.forEach(function (option) {
      var isChosen = chosen.indexOf(String(option[0])) !== -1;
      known = known || isChosen;
      select.appendChild(make("option", { value: option[0], text: option[1], selected: isChosen }));
    });
    // A value no longer offered (a deleted team, say) stays visible and is sent back as it was.
    chosen.forEach(function (value) {
      if (value !== "" && !options.some(function (option) { return String(option[0]) === value; })) {
        select.appendChild(make("option", { value: value, text: value, selected: true }));
      }
    });
    return select;
  }

  function choicesFor(source) {
    return schema.choices[source] || [];
  }

  function operatorsFor(field) {
    var operators = schema.operators[field.kind] || [];
    if (kind === "automation") {
      operators = operators.filter(function (operator) { return schema.changeOperators.indexOf(operator) === -1; });
    }
    return operators;
  }

  // -- Conditions --------------------------------------------------------------------------------

  function valueWidget(prefix, field, operator, value) {
    var label = texts.value;
    if (!field || schema.valueless.indexOf(operator) !== -1) return null;
    var isList = schema.listOperators.indexOf(operator) !== -1;
    if (field.kind === "choice" && field.choices) {
      var options = choicesFor(field.choices);
      if (isList) {
        return selectOf(prefix + "-values", options, value || [], {
          multiple: true, "aria-label": label, size: Math.min(6, Math.max(3, options.length)), "class": "select rules-multi"
        });
      }
      return selectOf(prefix + "-value", [["", texts.choose]].concat(options), value, { "aria-label": label });
    }
    var shown = Array.isArray(value) ? value.join(", ") : (value === null || value === undefined ? "" : String(value));
    if (field.kind === "number" || field.kind === "hours") {
      var number = make("input", { type: "number", step: "any", name: prefix + "-value", value: shown,
                                   "class": "input input--sm rules-number", "aria-label": label });
      if (field.kind !== "hours") return number;
      return make("span", { "class": "row rules-hours" }, [number, make("span", { "class": "small", text: texts.hours })]);
    }
    var attributes = { type: "text", name: prefix + "-value", value: shown, "class": "input input--sm rules-text",
                       "aria-label": label };
    if (field.kind === "tags" || isList) attributes.placeholder = texts.tagsHint;
    if (operator === "matches") attributes["class"] += " mono";
    return make("input", attributes);
  }

  function conditionRow(group, condition) {
    var n = counter++;
    var prefix = group + "-" + n;
    var row = make("div", { "class": "rules-row", "data-row": prefix });
    var fieldOptions = [["", texts.choose]].concat(schema.fields.map(function (field) { return [field.key, field.label]; }));
    var fieldSelect = selectOf(prefix + "-field", fieldOptions, condition.field || "", { "aria-label": texts.field });
    var operatorSlot = make("span", { "class": "rules-row__operator" });
    var valueSlot = make("span", { "class": "rules-row__value" });

    function drawValue(value) {
      valueSlot.textContent = "";
      var field = fieldsByKey[fieldSelect.value];
      var operatorSelect = operatorSlot.querySelector("select");
      var widget = valueWidget(prefix, field, operatorSelect ? operatorSelect.value : "", value);
      if (widget) valueSlot.appendChild(widget);
    }

    function drawOperator(operator, value) {
      operatorSlot.textContent = "";
      var field = fieldsByKey[fieldSelect.value];
      if (!field) { valueSlot.textContent = ""; return; }
      var operators = operatorsFor(field);
      var select = selectOf(prefix + "-operator", operators.map(function (key) {
        return [key, schema.operatorLabels[key] || key];
      }), operator || operators[0], { "aria-label": texts.operator });
      select.addEventListener("change", function () { drawValue(null); });
      operatorSlot.appendChild(select);
      drawValue(value);
    }

    fieldSelect.addEventListener("change", function () { drawOperator(null, null); });
    row.appendChild(fieldSelect);
    row.appendChild(operatorSlot);
    row.appendChild(valueSlot);
    row.appendChild(removeButton(row));
    drawOperator(condition.operator, condition.value);
    return row;
  }

  // -- Actions -----------------------------------------------------------------------------------

  function parameterWidget(prefix, parameter, value) {
    var name = prefix + "-" + parameter.name;
    var shown = Array.isArray(value) ? value.join(", ") : (value === null || value === undefined ? "" : String(value));
    if (parameter.kind.indexOf("choice:") === 0) {
      var options = choicesFor(parameter.kind.slice(7));
      // Only "assign" may be empty (unassign); elsewhere an empty first option asks for a choice.
      if (!options.some(function (option) { return option[0] === ""; })) options = [["", texts.choose]].concat(options);
      return selectOf(name, options, value === undefined ? "" : value, { "aria-label": parameter.label });
    }
    if (parameter.kind === "template" && parameter.name !== "subject") {
      return make("textarea", { name: name, rows: 3, "class": "textarea rules-template", "aria-label": parameter.label,
                                text: shown });
    }
    var attributes = { type: "text", name: name, value: shown, "class": "input input--sm rules-text",
                       "aria-label": parameter.label };
    if (parameter.kind === "tags") attributes.placeholder = texts.tagsHint;
    return make("input", attributes);
  }

  function actionRow(action) {
    var n = counter++;
    var prefix = "action-" + n;
    var row = make("div", { "class": "rules-row rules-row--action", "data-row": prefix });
    var typeOptions = [["", texts.choose]].concat(schema.actions.map(function (item) { return [item.key, item.label]; }));
    var typeSelect = selectOf(prefix + "-type", typeOptions, action.type || "", { "aria-label": texts.action });
    var parameters = make("div", { "class": "rules-row__parameters" });

    function draw(values) {
      parameters.textContent = "";
      var type = actionsByKey[typeSelect.value];
      if (!type) return;
      var hasTemplate = false;
      type.params.forEach(function (parameter) {
        hasTemplate = hasTemplate || parameter.kind === "template";
        parameters.appendChild(make("label", { "class": "rules-parameter" }, [
          make("span", { "class": "field__label", text: parameter.label }),
          parameterWidget(prefix, parameter, values[parameter.name])
        ]));
      });
      if (hasTemplate) {
        parameters.appendChild(make("p", { "class": "field__help rules-placeholders",
                                           text: texts.placeholders + " " + schema.placeholders.join("  ") }));
      }
    }

    typeSelect.addEventListener("change", function () { draw({}); });
    row.appendChild(typeSelect);
    row.appendChild(parameters);
    row.appendChild(removeButton(row));
    draw(action);
    return row;
  }

  function removeButton(row) {
    var button = make("button", { type: "button", "class": "btn btn--sm btn--ghost rules-row__remove",
                                  text: "×", "aria-label": texts.remove, title: texts.remove });
    button.addEventListener("click", function () { row.remove(); });
    return button;
  }

  // -- Start -------------------------------------------------------------------------------------

  var containers = {};
  form.querySelectorAll("[data-rows]").forEach(function (node) { containers[node.getAttribute("data-rows")] = node; });

  function addRow(group, data) {
    var container = containers[group];
    if (!container) return null;
    var row = group === "action" ? actionRow(data || {}) : conditionRow(group, data || {});
    container.appendChild(row);
    return row;
  }

  (initial.all || []).forEach(function (condition) { addRow("all", condition); });
  (initial.any || []).forEach(function (condition) { addRow("any", condition); });
  (initial.actions || []).forEach(function (action) { addRow("action", action); });
  if (!(initial.actions || []).length) addRow("action", {});

  form.querySelectorAll("[data-add-row]").forEach(function (button) {
    button.addEventListener("click", function () {
      var row = addRow(button.getAttribute("data-add-row"), {});
      var first = row && row.querySelector("select");
      if (first) first.focus();
    });
  });
})();
