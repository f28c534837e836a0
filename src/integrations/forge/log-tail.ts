/**
 * Reads the end of a (possibly huge) log response without holding all of it: chunks are kept only while
 * they fall within the last `maxBytes`. When the log was cut, the first partial line is dropped.
 */
export const readTail = async (res: Response, maxBytes: number): Promise<string> => {
  if (!res.body) return '';
  const chunks: Buffer[] = [];
  let size = 0;
  let cut = false;
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    const buf = Buffer.from(chunk);
    chunks.push(buf);
    size += buf.length;
    while (chunks.length > 1 && size - (chunks[0] as Buffer).length >= maxBytes) {
      size -= (chunks.shift() as Buffer).length;
      cut = true;
    }
  }
  let all = Buffer.concat(chunks);
  if (all.length > maxBytes) {
    all = all.subarray(all.length - maxBytes);
    cut = true;
  }
  let text = all.toString('utf8');
  if (cut) {
    const nl = text.indexOf('\n');
    text = nl >= 0 ? text.slice(nl + 1) : text;
  }
  return text;
};
