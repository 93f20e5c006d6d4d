"""Watch a tree with Python watchdog's InotifyObserver; one line per event.

Prints "ready" on stderr once schedule() and start() have returned, then
"<event_type> <src_path>" (and " -> <dest_path>" for moves) on stdout.
Stops cleanly on SIGINT or SIGTERM. With --polling first, it uses
watchdog's PollingObserver (a snapshot every second, its default).
"""
import signal
import sys
import threading

from watchdog.events import FileSystemEventHandler
from watchdog.observers.inotify import InotifyObserver
from watchdog.observers.polling import PollingObserver


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
    args = sys.argv[1:]
    polling = args[:1] == ["--polling"]
    observer = PollingObserver() if polling else InotifyObserver()
    observer.schedule(Printer(), args[-1], recursive=True)
    observer.start()
    sys.stderr.write("ready\n")
    sys.stderr.flush()
    while not done.wait(3600):
        pass
    observer.stop()
    observer.join()


if __name__ == "__main__":
    main()
