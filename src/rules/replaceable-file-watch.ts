import { type FSWatcher, statSync, watch } from 'node:fs';
import { dirname } from 'node:path';

/** What identifies one version of the file: `path` followed through its symlinks. */
interface Version {
  /** dev:ino of the file the path resolves to; a new one means the file was replaced. */
  inode: string;
  /** The inode plus size and times: a new one means the content may have changed. */
  id: string;
}

function currentVersion(path: string): Version {
  try {
    const s = statSync(path, { bigint: true });
    const inode = `${s.dev}:${s.ino}`;
    return { inode, id: `${inode}:${s.size}:${s.mtimeNs}:${s.ctimeNs}` };
  } catch (err) {
    // Missing (mid-replace) or a dangling ConfigMap symlink: a version of its own, so its return is news.
    const state = `absent:${(err as NodeJS.ErrnoException).code ?? 'error'}`;
    return { inode: state, id: state };
  }
}

/**
 * Calls `onChange` when the file at `path` may have changed, and keeps doing so after the file is
 * replaced rather than written in place.
 *
 * An inotify watch (fs.watch) on the file follows one inode and goes silent for good once that
 * inode is deleted: an editor's delete-and-recreate, or a ConfigMap update, where the kubelet
 * writes a new timestamped directory and renames a `..data` symlink over the old one, leaving the
 * visible `rules.yaml -> ..data/rules.yaml` link untouched (so no event even names the file). So
 * this watches the parent directory, which lives as long as the mount, and on any event there
 * checks whether the path now leads to a different inode, size or time. Events are not filtered
 * by name because in the ConfigMap case none carries the file's name; a stat per event in a rules
 * directory costs nothing. The file itself is watched too, re-armed whenever its inode changes,
 * for a symlink into another directory whose target is edited in place. No polling and no timer:
 * closing the two watchers releases everything.
 */
export class ReplaceableFileWatch {
  private readonly dirWatcher: FSWatcher;
  private fileWatcher?: FSWatcher;
  private version: Version;
  private closed = false;

  /** Throws when the parent directory cannot be watched. */
  constructor(
    readonly path: string,
    private readonly onChange: () => void,
  ) {
    this.version = currentVersion(path);
    this.dirWatcher = watch(dirname(path), () => this.check());
    // A directory that is itself removed ends the watch; nothing in it can change any more.
    this.dirWatcher.on('error', () => this.dirWatcher.close());
    this.armFileWatcher();
  }

  close(): void {
    this.closed = true;
    this.dirWatcher.close();
    this.fileWatcher?.close();
    this.fileWatcher = undefined;
  }

  private check(): void {
    if (this.closed) return;
    const now = currentVersion(this.path);
    if (now.id === this.version.id) return;
    const replaced = now.inode !== this.version.inode;
    this.version = now;
    if (replaced || !this.fileWatcher) this.armFileWatcher();
    this.onChange();
  }

  private armFileWatcher(): void {
    this.fileWatcher?.close();
    this.fileWatcher = undefined;
    let watcher: FSWatcher;
    try {
      watcher = watch(this.path, () => this.check());
    } catch {
      // Absent right now: the directory watch sees it come back and arms this again.
      return;
    }
    watcher.on('error', () => {
      watcher.close();
      if (this.fileWatcher === watcher) this.fileWatcher = undefined;
    });
    this.fileWatcher = watcher;
  }
}
