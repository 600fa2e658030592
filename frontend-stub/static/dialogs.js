// Modal questions built on <dialog>, instead of window.confirm/prompt, so they
// match the page and tests can answer them like any other element.

import { h } from './dom.js';

function openDialog(content, { onClose }) {
  const dialog = h('dialog', { class: 'dialog', testid: 'dialog' }, content);
  dialog.addEventListener('close', () => {
    onClose(dialog.returnValue);
    dialog.remove();
  });
  document.body.append(dialog);
  dialog.showModal();
  return dialog;
}

/** Resolves true when the person confirms. */
export function confirmDialog({ title, message, confirmLabel = 'OK', danger = false }) {
  return new Promise((resolve) => {
    const form = h('form', { method: 'dialog' },
      h('h2', {}, title),
      message && h('p', {}, message),
      h('div', { class: 'dialog-actions' },
        h('button', { value: 'cancel', class: 'button', testid: 'dialog-cancel' }, 'Cancel'),
        h('button', {
          value: 'confirm',
          class: `button ${danger ? 'button-danger' : 'button-primary'}`,
          testid: 'dialog-confirm',
        }, confirmLabel),
      ),
    );
    openDialog(form, { onClose: (value) => resolve(value === 'confirm') });
  });
}

/** Resolves with the text entered, or null when cancelled. */
export function promptDialog({ title, label, value = '', confirmLabel = 'OK' }) {
  return new Promise((resolve) => {
    const input = h('input', { type: 'text', value, required: true, testid: 'dialog-input', class: 'input' });
    let dialog;
    const form = h('form', {
      method: 'dialog',
      on: {
        submit: (event) => {
          // Enter in the field submits without a submitter: treat it as OK.
          if (!event.submitter || event.submitter.value === 'confirm') {
            event.preventDefault();
            dialog.close('confirm');
          }
        },
      },
    },
      h('h2', {}, title),
      h('label', { class: 'field' }, h('span', {}, label), input),
      h('div', { class: 'dialog-actions' },
        h('button', { value: 'cancel', class: 'button', formNoValidate: true, testid: 'dialog-cancel' }, 'Cancel'),
        h('button', { value: 'confirm', class: 'button button-primary', testid: 'dialog-confirm' }, confirmLabel),
      ),
    );
    dialog = openDialog(form, { onClose: (result) => resolve(result === 'confirm' ? input.value.trim() : null) });
    input.select();
  });
}
