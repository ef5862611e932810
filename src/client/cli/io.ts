// Standard streams for the verbs: writes that wait for the data to be taken (and fail, rather
// than hang, when the reader went away), and reading standard input whole.

export function writeOut(stream: NodeJS.WritableStream, data: Buffer | string): Promise<void> {
  if (data.length === 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    stream.write(data, (e) => (e ? reject(e) : resolve()));
  });
}

export async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of stream) parts.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(parts);
}
