"""Watch a tree with Python watchdog's InotifyObserver; one line per event.

Prints "ready" on stderr once schedule() and start() have returned, then
"<event_type> <src_path>" (and " -> <dest_path>" for moves) on stdout.
Stops cleanly on SIGINT or SIGTERM.
"""
import signal
import sys
import threading

from watchdog.events import FileSystemEventHandler
from watchdog.observers.inotify import InotifyObserver


class Printer(FileSystemEventHandler):
    def on_any_event(self, event):
        dest = getattr(event, "dest_path", "")
        if dest:
            sys.stdout.write(f"{event.event_type} {event.src_path} -> {dest}\n")
        else:
            sys.stdout.write(f"{event.event_type} {event.src_path}\n")


def main():
    sys.stdout.reconfigure(line_buffering=True)
    done = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: done.set())
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    observer = InotifyObserver()
    observer.schedule(Printer(), sys.argv[1], recursive=True)
    observer.start()
    sys.stderr.write("ready\n")
    sys.stderr.flush()
    while not done.wait(3600):
        pass
    observer.stop()
    observer.join()


if __name__ == "__main__":
    main()
