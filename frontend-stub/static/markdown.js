// %% md cells: Markdown rendered by marked, then sanitised by DOMPurify before it
// touches the editor's page. A notebook is anyone's text, and the report lives
// on the editor's origin (with the viewer's session), so its HTML must not run
// script, submit forms or restyle the page (CSS belongs in %% css cells, which
// are scoped to the report).

import { Marked } from './vendor/marked.esm.js';
import DOMPurify from './vendor/purify.es.js';

const markdown = new Marked({ gfm: true, breaks: false });

const SANITISE = {
  RETURN_DOM_FRAGMENT: true,
  FORBID_TAGS: ['style', 'form', 'input', 'button', 'textarea', 'select', 'option', 'dialog'],
  FORBID_ATTR: ['style', 'formaction'],
  // ids and names in notebook text must not shadow the editor's own globals.
  SANITIZE_NAMED_PROPS: true,
};

/** The Markdown `source` as a sanitised DocumentFragment. */
export function renderMarkdown(source) {
  const fragment = DOMPurify.sanitize(markdown.parse(source), SANITISE);
  for (const link of fragment.querySelectorAll('a[href]')) {
    // Links leave the editor rather than replace it, and tell nothing of it.
    link.target = '_blank';
    link.rel = 'noopener noreferrer';
  }
  return fragment;
}
