// Word wrap for the CLI's help texts: words of `text` on lines of at most `width` columns,
// each line starting with `indent`.
export function wrap(text: string, indent: string, width = 79): string[] {
  const out: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line && indent.length + line.length + 1 + word.length > width) {
      out.push(indent + line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  if (line) out.push(indent + line);
  return out;
}
