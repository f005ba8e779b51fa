// Small progressive enhancements; every page works without them.
document.addEventListener("change", (event) => {
  const field = event.target;
  if (field instanceof HTMLSelectElement && field.hasAttribute("data-autosubmit") && field.form) {
    field.form.requestSubmit();
  }
});

// A "select all" checkbox ticks the checkboxes of its form named in data-select-all.
document.addEventListener("change", (event) => {
  const box = event.target;
  if (!(box instanceof HTMLInputElement) || !box.dataset.selectAll || !box.form) return;
  for (const row of box.form.querySelectorAll(`input[type=checkbox][name="${box.dataset.selectAll}"]`)) {
    row.checked = box.checked;
  }
});

// A form with data-busy shows that text on its button while the request runs ("Check now"
// fetches a page, which can take seconds) and is not sent a second time meanwhile.
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement) || !form.dataset.busy) return;
  if (form.dataset.sending) {
    event.preventDefault();
    return;
  }
  form.dataset.sending = "1";
  if (event.submitter instanceof HTMLButtonElement) {
    event.submitter.setAttribute("aria-disabled", "true");
    event.submitter.textContent = form.dataset.busy;
  }
});

// A form with data-confirm asks before it is sent (deleting a cost); without JavaScript the
// button acts at once, as a plain form.
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement) || !form.dataset.confirm) return;
  if (!window.confirm(form.dataset.confirm)) {
    event.preventDefault();
    event.stopImmediatePropagation();
  }
});
