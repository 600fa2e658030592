// Iodide's notebook text format, jsmd: cells start with a line "%% TYPE FLAGS"
// (js, md, css, py, fetch, raw...; the one flag Iodide had is skipRunAll). A
// bare "%%" starts a js cell, and text before the first delimiter is markdown.

const DELIMITER = /^%%(?:[ \t]+(\w+))?(.*)$/;

/**
 * Splits jsmd text into cells: { index, type, flags, source, startLine } where
 * flags are the words after the type and startLine is the 0-based line of the
 * cell's delimiter (or 0 for leading text).
 */
export function parseJsmd(text) {
  const cells = [];
  let current = null;
  text.split('\n').forEach((line, lineNumber) => {
    const match = DELIMITER.exec(line);
    if (match) {
      const flags = match[2].split(/\s+/).filter(Boolean);
      current = { type: (match[1] ?? 'js').toLowerCase(), flags, lines: [], startLine: lineNumber };
      cells.push(current);
    } else {
      if (!current) {
        current = { type: 'md', flags: [], lines: [], startLine: 0, implicit: true };
        cells.push(current);
      }
      current.lines.push(line);
    }
  });
  return cells
    .map((cell) => ({ ...cell, source: cell.lines.join('\n').trim() }))
    // Blank lines before the first delimiter are not a cell.
    .filter((cell) => !(cell.implicit && cell.source === ''))
    .map(({ type, flags, source, startLine }) => ({ type, flags, source, startLine }))
    .map((cell, index) => ({ ...cell, index }));
}

/** The index of the cell that holds the given character offset of the text. */
export function cellIndexAt(text, offset) {
  const line = text.slice(0, offset).split('\n').length - 1;
  const cells = parseJsmd(text);
  let found = cells.length ? 0 : -1;
  for (const cell of cells) if (cell.startLine <= line) found = cell.index;
  return found;
}
