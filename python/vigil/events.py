"""watchdog-shaped events and handler, for vigil.Observer without watchdog.

When watchdog is installed, vigil.Observer delivers watchdog's own event
classes (so isinstance checks against watchdog.events keep working); these
are the stand-ins used when it is not. Names and attributes are watchdog's.
"""

EVENT_TYPE_MOVED = "moved"
EVENT_TYPE_DELETED = "deleted"
EVENT_TYPE_CREATED = "created"
EVENT_TYPE_MODIFIED = "modified"
EVENT_TYPE_CLOSED = "closed"
EVENT_TYPE_CLOSED_NO_WRITE = "closed_no_write"
EVENT_TYPE_OPENED = "opened"


class FileSystemEvent:
    """One change: event_type, src_path, is_directory, is_synthetic."""

    event_type = None
    is_directory = False
    is_synthetic = False

    def __init__(self, src_path, *, is_synthetic=False):
        self._src_path = src_path
        if is_synthetic:
            self.is_synthetic = True

    @property
    def src_path(self):
        return self._src_path

    @property
    def dest_path(self):
        return ""

    @property
    def key(self):
        return (self.event_type, self.src_path, self.is_directory)

    def __eq__(self, other):
        return isinstance(other, FileSystemEvent) and self.key == other.key

    def __ne__(self, other):
        return not self == other

    def __hash__(self):
        return hash(self.key)

    def __repr__(self):
        return "<%s: event_type=%s, src_path=%r, is_directory=%s>" % (
            type(self).__name__, self.event_type, self.src_path, self.is_directory)


class FileSystemMovedEvent(FileSystemEvent):
    event_type = EVENT_TYPE_MOVED

    def __init__(self, src_path, dest_path, *, is_synthetic=False):
        super().__init__(src_path, is_synthetic=is_synthetic)
        self._dest_path = dest_path

    @property
    def dest_path(self):
        return self._dest_path

    @property
    def key(self):
        return (self.event_type, self.src_path, self.dest_path, self.is_directory)

    def __repr__(self):
        return "<%s: src_path=%r, dest_path=%r, is_directory=%s>" % (
            type(self).__name__, self.src_path, self.dest_path, self.is_directory)


class FileDeletedEvent(FileSystemEvent):
    event_type = EVENT_TYPE_DELETED


class FileModifiedEvent(FileSystemEvent):
    event_type = EVENT_TYPE_MODIFIED


class FileCreatedEvent(FileSystemEvent):
    event_type = EVENT_TYPE_CREATED


class FileMovedEvent(FileSystemMovedEvent):
    pass


class FileClosedEvent(FileSystemEvent):
    event_type = EVENT_TYPE_CLOSED


class FileClosedNoWriteEvent(FileSystemEvent):
    event_type = EVENT_TYPE_CLOSED_NO_WRITE


class FileOpenedEvent(FileSystemEvent):
    event_type = EVENT_TYPE_OPENED


class DirDeletedEvent(FileSystemEvent):
    event_type = EVENT_TYPE_DELETED
    is_directory = True


class DirModifiedEvent(FileSystemEvent):
    event_type = EVENT_TYPE_MODIFIED
    is_directory = True


class DirCreatedEvent(FileSystemEvent):
    event_type = EVENT_TYPE_CREATED
    is_directory = True


class DirMovedEvent(FileSystemMovedEvent):
    is_directory = True


class FileSystemEventHandler:
    """Base handler: dispatch() calls on_any_event, then on_<event_type>."""

    def dispatch(self, event):
        self.on_any_event(event)
        getattr(self, "on_" + event.event_type)(event)

    def on_any_event(self, event):
        pass

    def on_moved(self, event):
        pass

    def on_created(self, event):
        pass

    def on_deleted(self, event):
        pass

    def on_modified(self, event):
        pass

    def on_closed(self, event):
        pass

    def on_closed_no_write(self, event):
        pass

    def on_opened(self, event):
        pass
