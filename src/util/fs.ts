import { stat } from 'node:fs/promises';

/** Whether anything exists at `path` (file, directory or other). */
export async function pathExists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/** The size of the regular file at `path` (links followed); undefined when there is none (absent, a dangling link, a directory). */
export async function regularFileSize(path: string): Promise<number | undefined> {
  const st = await stat(path).catch(() => undefined);
  return st?.isFile() ? st.size : undefined;
}
