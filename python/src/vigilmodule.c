/*
 * vigil._vigil: the CPython binding of libvigil, written against the C API.
 *
 * It defines two types, Watcher and Event, the exception ForkedError and a
 * few helpers. The package vigil (python/vigil/) wraps them with the parts
 * that are easier to get right in Python: awatch for asyncio, the watchdog
 * shim Observer, and the choice of a cooperative wait under gevent and
 * eventlet.
 *
 * How a Watcher is shared between threads. libvigil wants vigil_add,
 * vigil_remove and vigil_read called from one thread at a time, but allows
 * vigil_fd, vigil_wait_fds, vigil_timeout and vigil_wake from any thread
 * at any time. So:
 *   - opmu serialises every call into the library other than those.
 *     It is never held while blocking: read() waits in poll() on wait_fd
 *     with opmu released and then drains with vigil_read(.., 0).
 *   - mu guards the life cycle: `users` counts the calls in progress, and
 *     close() sets `closing`, wakes every waiter with vigil_wake, and lets
 *     the last user out do vigil_close. close() returns once that is done,
 *     so every descriptor is closed when it returns.
 *   - A close() from code that runs inside one of our own calls on the same
 *     thread (a signal handler, or another green thread while a green read
 *     waits in the hub) cannot wait for that call to end; it only marks the
 *     watcher closing, and the call finishes the close on its way out.
 * Neither mutex is ever waited for while the GIL is held by a thread that
 * might need it, so there is no lock-order cycle with the GIL.
 *
 * Signals. CPython runs Python signal handlers only in the main thread,
 * and the C-level handler may run in any thread that does not block the
 * signal: when another thread takes it (a thread busy in Python code, say),
 * a main thread sleeping in poll() is not interrupted. What the C-level
 * handler always does is write the signal number to the wakeup fd of
 * signal.set_wakeup_fd. So a blocking read() in the main thread installs a
 * pipe of ours as the wakeup fd for the time it sleeps, polls on it beside
 * wait_fd, and on waking restores the previous wakeup fd, forwards the
 * bytes it got to it (asyncio, for one, reads its signals from there), and
 * runs the handlers with PyErr_CheckSignals. Ctrl-C therefore raises
 * KeyboardInterrupt as soon as the main thread gets the GIL back, which is
 * within the interpreter's switch interval (5 ms) even when another thread
 * is spinning in Python code.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#include "vigil.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_MAX_EVENTS 4096

PyMODINIT_FUNC PyInit__vigil(void);

/* ------------------------------------------------------------------ */
/* Module-wide state                                                   */
/* ------------------------------------------------------------------ */

static PyObject *ForkedError;
static PyObject *kind_names[VIGIL_KIND_MAX + 1]; /* interned kind names */
static PyObject *set_wakeup_fd;                  /* signal.set_wakeup_fd */
static PyObject *str_warn_on_full_buffer;

/*
 * Our own fork generation, bumped in the child by a pthread_atfork handler.
 * A watcher remembers the generation it was opened in; a different value
 * means it was inherited through fork(). Checking it before touching the
 * watcher's mutexes matters: a mutex held by a parent thread at the moment
 * of the fork stays locked for ever in the child.
 */
static unsigned long fork_gen;

static void on_fork_child(void) {
  __atomic_add_fetch(&fork_gen, 1, __ATOMIC_RELAXED);
}

static unsigned long current_gen(void) {
  return __atomic_load_n(&fork_gen, __ATOMIC_RELAXED);
}

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------------------ */
/* Errors                                                              */
/* ------------------------------------------------------------------ */

/*
 * Raises the Python exception for a negative errno or VIGIL_E* code, with
 * vigil_strerror's message. OSError(errno, ...) picks the subclass itself
 * (FileNotFoundError, PermissionError, NotADirectoryError, ...). filename
 * may be NULL.
 */
static PyObject *set_vigil_error(int code, PyObject *filename) {
  const char *msg = vigil_strerror(code);
  PyObject *type = NULL;
  int err = 0;
  switch (code) {
  case VIGIL_EFORKED:
    PyErr_SetString(ForkedError, msg);
    return NULL;
  case VIGIL_EBUSY:
    PyErr_SetString(PyExc_RuntimeError, msg);
    return NULL;
  case VIGIL_EPATTERN:
  case VIGIL_ENOTROOT:
  case VIGIL_EEXIST:
  case VIGIL_ENOBACKEND:
  case VIGIL_EOVERLAP:
    type = PyExc_ValueError;
    break;
  case VIGIL_EWATCHLIMIT:
    err = ENOSPC;
    break;
  case VIGIL_EINSTLIMIT:
    err = EMFILE;
    break;
  case VIGIL_ENOPROC:
  case VIGIL_EROOTMOVED:
    err = ENOENT;
    break;
  case -ENOMEM:
    PyErr_NoMemory();
    return NULL;
  default:
    err = code < 0 ? -code : EIO;
  }
  if (type) {
    if (filename)
      PyErr_Format(type, "%s: %R", msg, filename);
    else
      PyErr_SetString(type, msg);
    return NULL;
  }
  PyObject *args =
      filename ? Py_BuildValue("(isO)", err, msg, filename) : Py_BuildValue("(is)", err, msg);
  if (!args)
    return NULL;
  PyObject *exc = PyObject_Call(PyExc_OSError, args, NULL);
  Py_DECREF(args);
  if (!exc)
    return NULL;
  PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
  Py_DECREF(exc);
  return NULL;
}

static PyObject *closed_error(void) {
  PyErr_SetString(PyExc_ValueError, "I/O operation on closed Watcher");
  return NULL;
}

/* ------------------------------------------------------------------ */
/* Signal wakeup                                                       */
/* ------------------------------------------------------------------ */

static int sigpipe[2] = {-1, -1};
static pid_t sigpipe_pid;

/* The pipe of this process (a child makes its own); GIL held. */
static int sigpipe_ready(void) {
  pid_t pid = getpid();
  if (sigpipe[0] >= 0 && sigpipe_pid == pid)
    return 1;
  int p[2];
  if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0)
    return 0;
  /* A parent's pipe inherited through fork() is left open: the child's
     wakeup fd may still point at it. */
  sigpipe[0] = p[0];
  sigpipe[1] = p[1];
  sigpipe_pid = pid;
  return 1;
}

typedef struct {
  int active; /* our pipe is the wakeup fd */
  int old_fd; /* the wakeup fd before ours */
} sigguard;

/*
 * Makes our pipe the wakeup fd, if this is the main thread (set_wakeup_fd
 * refuses elsewhere, and only the main thread runs handlers anyway). Never
 * fails: without it a read still works, it just is not woken by a signal
 * that another thread takes. GIL held.
 */
static void sig_install(sigguard *g) {
  g->active = 0;
  g->old_fd = -1;
  if (!set_wakeup_fd || !sigpipe_ready())
    return;
  char buf[64];
  while (read(sigpipe[0], buf, sizeof buf) > 0)
    ;
  PyObject *exc_type, *exc_value, *exc_tb;
  PyErr_Fetch(&exc_type, &exc_value, &exc_tb);
  PyObject *args = Py_BuildValue("(i)", sigpipe[1]);
  PyObject *kw = args ? PyDict_New() : NULL;
  PyObject *old = NULL;
  if (kw && PyDict_SetItem(kw, str_warn_on_full_buffer, Py_False) == 0)
    old = PyObject_Call(set_wakeup_fd, args, kw);
  Py_XDECREF(args);
  Py_XDECREF(kw);
  if (old) {
    g->old_fd = (int)PyLong_AsLong(old);
    Py_DECREF(old);
    g->active = 1;
  }
  PyErr_Clear(); /* ValueError: not the main thread */
  PyErr_Restore(exc_type, exc_value, exc_tb);
}

/* Passes what our pipe received on to the previous wakeup fd. */
static void sig_forward(sigguard *g) {
  char buf[64];
  ssize_t n;
  while ((n = read(sigpipe[0], buf, sizeof buf)) > 0)
    if (g->old_fd >= 0 && write(g->old_fd, buf, (size_t)n) < 0) {
      /* Full or closed: the previous owner has no room for it either. */
    }
}

/* Puts the previous wakeup fd back, keeping any pending exception. GIL held. */
static void sig_restore(sigguard *g) {
  if (!g->active)
    return;
  g->active = 0;
  PyObject *exc_type, *exc_value, *exc_tb;
  PyErr_Fetch(&exc_type, &exc_value, &exc_tb);
  PyObject *r = PyObject_CallFunction(set_wakeup_fd, "i", g->old_fd);
  Py_XDECREF(r);
  PyErr_Clear();
  sig_forward(g);
  PyErr_Restore(exc_type, exc_value, exc_tb);
}

/* ------------------------------------------------------------------ */
/* Event                                                               */
/* ------------------------------------------------------------------ */

/*
 * An event holds only strings, bytes, None and plain numbers, so it
 * cannot be part of a reference cycle and is not tracked by the GC: that
 * keeps a storm of events cheap. The error of an `error` event is built
 * on demand from the stored code.
 */
typedef struct {
  PyObject_HEAD PyObject *kind;
  PyObject *path;
  PyObject *from;
  char is_dir;
  char synthetic;
  char by_move;
  int code;
} EventObject;

static PyTypeObject EventType;

static PyObject *kind_object(PyObject *name) {
  for (int k = VIGIL_CREATED; k <= VIGIL_KIND_MAX; k++) {
    int eq = PyUnicode_Compare(name, kind_names[k]);
    if (eq == 0) {
      Py_INCREF(kind_names[k]);
      return kind_names[k];
    }
    if (eq == -1 && PyErr_Occurred())
      return NULL;
  }
  PyErr_Format(PyExc_ValueError, "unknown event kind: %R", name);
  return NULL;
}

static PyObject *Event_new(PyTypeObject *type, PyObject *args, PyObject *kwds) {
  static char *kwlist[] = {"kind",      "path",       "from_path", "is_dir",
                           "synthetic", "error_code", "by_move",   NULL};
  PyObject *kind, *path, *from = Py_None;
  int is_dir = 0, synthetic = 0, code = 0, by_move = 0;
  if (!PyArg_ParseTupleAndKeywords(args, kwds, "UO|Oppip:Event", kwlist, &kind, &path, &from,
                                   &is_dir, &synthetic, &code, &by_move))
    return NULL;
  PyObject *k = kind_object(kind);
  if (!k)
    return NULL;
  EventObject *self = (EventObject *)type->tp_alloc(type, 0);
  if (!self) {
    Py_DECREF(k);
    return NULL;
  }
  self->kind = k;
  Py_INCREF(path);
  self->path = path;
  Py_INCREF(from);
  self->from = from;
  self->is_dir = (char)is_dir;
  self->synthetic = (char)synthetic;
  self->by_move = (char)by_move;
  self->code = code;
  return (PyObject *)self;
}

static void Event_dealloc(EventObject *self) {
  Py_XDECREF(self->kind);
  Py_XDECREF(self->path);
  Py_XDECREF(self->from);
  Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *Event_repr(EventObject *self) {
  if (self->from != Py_None)
    return PyUnicode_FromFormat("vigil.Event(%R, %R, from_path=%R, is_dir=%s, synthetic=%s)",
                                self->kind, self->path, self->from, self->is_dir ? "True" : "False",
                                self->synthetic ? "True" : "False");
  if (self->code)
    return PyUnicode_FromFormat("vigil.Event(%R, %R, is_dir=%s, error_code=%d)", self->kind,
                                self->path, self->is_dir ? "True" : "False", self->code);
  return PyUnicode_FromFormat("vigil.Event(%R, %R, is_dir=%s, synthetic=%s)", self->kind,
                              self->path, self->is_dir ? "True" : "False",
                              self->synthetic ? "True" : "False");
}

static PyObject *Event_tuple(EventObject *self) {
  return Py_BuildValue("(OOOOOiO)", self->kind, self->path, self->from,
                       self->is_dir ? Py_True : Py_False, self->synthetic ? Py_True : Py_False,
                       self->code, self->by_move ? Py_True : Py_False);
}

static Py_hash_t Event_hash(EventObject *self) {
  PyObject *t = Event_tuple(self);
  if (!t)
    return -1;
  Py_hash_t h = PyObject_Hash(t);
  Py_DECREF(t);
  return h;
}

static PyObject *Event_richcompare(PyObject *a, PyObject *b, int op) {
  if ((op != Py_EQ && op != Py_NE) || !PyObject_TypeCheck(a, &EventType) ||
      !PyObject_TypeCheck(b, &EventType))
    Py_RETURN_NOTIMPLEMENTED;
  PyObject *ta = Event_tuple((EventObject *)a);
  PyObject *tb = ta ? Event_tuple((EventObject *)b) : NULL;
  PyObject *r = tb ? PyObject_RichCompare(ta, tb, op) : NULL;
  Py_XDECREF(ta);
  Py_XDECREF(tb);
  return r;
}

static PyObject *Event_reduce(EventObject *self, PyObject *Py_UNUSED(ignored)) {
  PyObject *t = Event_tuple(self);
  if (!t)
    return NULL;
  PyObject *r = Py_BuildValue("(OO)", (PyObject *)Py_TYPE(self), t);
  Py_DECREF(t);
  return r;
}

static PyObject *Event_get_error(EventObject *self, void *Py_UNUSED(closure)) {
  if (self->code == 0)
    Py_RETURN_NONE;
  set_vigil_error(self->code, self->path == Py_None ? NULL : self->path);
  PyObject *type, *value, *tb;
  PyErr_Fetch(&type, &value, &tb);
  PyErr_NormalizeException(&type, &value, &tb);
  Py_XDECREF(type);
  Py_XDECREF(tb);
  return value;
}

static PyMemberDef Event_members[] = {
    {"kind", T_OBJECT, offsetof(EventObject, kind), READONLY,
     "what happened: 'created', 'removed', 'modified', 'attrib', 'moved', 'closed', 'overflow', "
     "'error', 'opened' or 'closed_nowrite'"},
    {"path", T_OBJECT, offsetof(EventObject, path), READONLY,
     "the path (str or bytes, like the root it is under); None for 'overflow'"},
    {"from_path", T_OBJECT, offsetof(EventObject, from), READONLY,
     "the old path of a 'moved' event, else None"},
    {"is_dir", T_BOOL, offsetof(EventObject, is_dir), READONLY, "the entry is a directory"},
    {"synthetic", T_BOOL, offsetof(EventObject, synthetic), READONLY,
     "found by a scan (a new directory's listing, a rescan), not reported by the kernel"},
    {"by_move", T_BOOL, offsetof(EventObject, by_move), READONLY,
     "a 'created' entry was renamed in from outside the root, a 'removed' one renamed out of it"},
    {"error_code", T_INT, offsetof(EventObject, code), READONLY,
     "for 'error' events, libvigil's negative error code; 0 otherwise"},
    {NULL, 0, 0, 0, NULL}};

static PyGetSetDef Event_getset[] = {
    {"error", (getter)Event_get_error, NULL,
     "for 'error' events, the OSError (or ForkedError) it stands for", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PyMethodDef Event_methods[] = {{"__reduce__", (PyCFunction)Event_reduce, METH_NOARGS, NULL},
                                      {NULL, NULL, 0, NULL}};

static PyTypeObject EventType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "vigil.Event",
    .tp_basicsize = sizeof(EventObject),
    .tp_dealloc = (destructor)Event_dealloc,
    .tp_repr = (reprfunc)Event_repr,
    .tp_hash = (hashfunc)Event_hash,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Event(kind, path, from_path=None, is_dir=False, synthetic=False, error_code=0, "
              "by_move=False)\n--\n\n"
              "One change, as reported by a Watcher. Immutable and hashable.",
    .tp_richcompare = Event_richcompare,
    .tp_methods = Event_methods,
    .tp_members = Event_members,
    .tp_getset = Event_getset,
    .tp_new = Event_new,
};

/* ------------------------------------------------------------------ */
/* A batch of events copied out of the library without the GIL         */
/* ------------------------------------------------------------------ */

#define NO_STRING SIZE_MAX

typedef struct {
  int kind;
  unsigned flags;
  int error;
  size_t path, path_len; /* offsets into the batch's bytes; path == NO_STRING for NULL */
  size_t from, from_len;
} record;

typedef struct {
  record *recs;
  size_t n, cap;
  char *buf;
  size_t len, bcap;
} batch;

static void batch_free(batch *b) {
  free(b->recs);
  free(b->buf);
  memset(b, 0, sizeof *b);
}

static int batch_reserve(batch *b, size_t bytes) {
  if (b->n == b->cap) {
    size_t cap = b->cap ? b->cap * 2 : 64;
    record *r = realloc(b->recs, cap * sizeof *r);
    if (!r)
      return -1;
    b->recs = r;
    b->cap = cap;
  }
  if (b->bcap - b->len < bytes) {
    size_t cap = b->bcap ? b->bcap : 4096;
    while (cap - b->len < bytes)
      cap *= 2;
    char *p = realloc(b->buf, cap);
    if (!p)
      return -1;
    b->buf = p;
    b->bcap = cap;
  }
  return 0;
}

static size_t batch_string(batch *b, const char *s, size_t *len) {
  if (!s) {
    *len = 0;
    return NO_STRING;
  }
  size_t off = b->len;
  *len = strlen(s);
  memcpy(b->buf + off, s, *len);
  b->len += *len;
  return off;
}

/*
 * Moves up to max events from the library into b. Called without the GIL,
 * with opmu held. Returns 0, or a negative code if vigil_read failed.
 * Room is made before each vigil_read so that an event it hands out is
 * never dropped, except when memory runs out for an unusually long path.
 */
static int batch_fill(vigil_t *v, batch *b, size_t max) {
  while (b->n < max) {
    if (batch_reserve(b, 2 * PATH_MAX) < 0)
      return b->n ? 0 : -ENOMEM;
    vigil_event ev;
    int r = vigil_read(v, &ev, 0);
    if (r <= 0)
      return r;
    size_t need = (ev.path ? strlen(ev.path) : 0) + (ev.from ? strlen(ev.from) : 0);
    if (need > b->bcap - b->len && batch_reserve(b, need) < 0)
      return -ENOMEM;
    record *rec = &b->recs[b->n++];
    rec->kind = ev.kind;
    rec->flags = ev.flags;
    rec->error = ev.error;
    rec->path = batch_string(b, ev.path, &rec->path_len);
    rec->from = batch_string(b, ev.from, &rec->from_len);
  }
  return 0;
}

static PyObject *make_path(const char *s, size_t len, int bytes_mode) {
  if (bytes_mode)
    return PyBytes_FromStringAndSize(s, (Py_ssize_t)len);
  return PyUnicode_DecodeFSDefaultAndSize(s, (Py_ssize_t)len);
}

/* The batch as a list of Event objects; GIL held. */
static PyObject *batch_list(const batch *b, int bytes_mode) {
  PyObject *list = PyList_New((Py_ssize_t)b->n);
  if (!list)
    return NULL;
  for (size_t i = 0; i < b->n; i++) {
    const record *r = &b->recs[i];
    EventObject *e = PyObject_New(EventObject, &EventType);
    if (!e)
      goto fail;
    int k = r->kind >= VIGIL_CREATED && r->kind <= VIGIL_KIND_MAX ? r->kind : VIGIL_ERROR;
    e->kind = kind_names[k];
    Py_INCREF(e->kind);
    e->from = NULL;
    e->path = r->path == NO_STRING ? (Py_INCREF(Py_None), Py_None)
                                   : make_path(b->buf + r->path, r->path_len, bytes_mode);
    if (e->path)
      e->from = r->from == NO_STRING ? (Py_INCREF(Py_None), Py_None)
                                     : make_path(b->buf + r->from, r->from_len, bytes_mode);
    e->is_dir = (r->flags & VIGIL_ISDIR) != 0;
    e->synthetic = (r->flags & VIGIL_SYNTHETIC) != 0;
    e->by_move = (r->flags & VIGIL_BY_MOVE) != 0;
    e->code = r->kind == VIGIL_ERROR ? r->error : 0;
    PyList_SET_ITEM(list, (Py_ssize_t)i, (PyObject *)e);
    if (!e->path || !e->from)
      goto fail;
  }
  return list;
fail:
  Py_DECREF(list);
  return NULL;
}

/* ------------------------------------------------------------------ */
/* Watcher                                                             */
/* ------------------------------------------------------------------ */

typedef struct {
  PyObject_HEAD vigil_t *v;
  unsigned long gen; /* fork generation at open */
  int bytes_mode;    /* paths are bytes (else str) */
  PyObject *roots;   /* list of the roots, as given */
  pthread_mutex_t mu;
  pthread_cond_t cv;
  pthread_mutex_t opmu;
  int sync_init;
  int users;     /* calls in progress (mu) */
  int closing;   /* close() was called (mu) */
  int finishing; /* a thread is doing the vigil_close (mu) */
  int woken;     /* wake() was called (atomic) */
  /* The thread running Python code from inside one of our calls (signal
     handlers, a green waiter), or 0; a close() from it is deferred. */
  unsigned long cb_thread;
  int in_add; /* a vigil_add is running (opmu held) */
  /* vigil_add's progress callback: the saved thread state and the guard. */
  PyThreadState *add_ts;
  sigguard *add_sig;
  batch spare; /* a batch kept for the next read (mu) */
  /* An epoll descriptor over what vigil_wait_fds lists, or -1 (see wait_fd). */
  int fold;
  int folded; /* how many of the list it holds (mu) */
  PyObject *weakrefs;
} WatcherObject;

static PyTypeObject WatcherType;

static int is_forked(const WatcherObject *self) {
  return self->gen != current_gen();
}

static void finish_close(WatcherObject *self);

/* Registers a call in progress. GIL held; 0, or -1 with an exception. */
static int w_enter(WatcherObject *self) {
  if (!self->sync_init || !self->v) {
    closed_error();
    return -1;
  }
  if (is_forked(self)) {
    set_vigil_error(VIGIL_EFORKED, NULL);
    return -1;
  }
  if (self->in_add && self->cb_thread == PyThread_get_thread_ident()) {
    /* A signal handler that runs while this thread is inside vigil_add. */
    PyErr_SetString(PyExc_RuntimeError,
                    "Watcher used from a signal handler while it is adding a root");
    return -1;
  }
  pthread_mutex_lock(&self->mu);
  if (self->closing || !self->v) {
    pthread_mutex_unlock(&self->mu);
    closed_error();
    return -1;
  }
  self->users++;
  pthread_mutex_unlock(&self->mu);
  return 0;
}

/* Ends a call; the last one out of a closing watcher closes it. GIL held. */
static void w_leave(WatcherObject *self) {
  pthread_mutex_lock(&self->mu);
  int last = --self->users == 0 && self->closing && self->v && !self->finishing;
  if (last)
    self->finishing = 1;
  pthread_mutex_unlock(&self->mu);
  if (last)
    finish_close(self);
}

/* Closes the epoll descriptor of wait_fd, once vigil_close has been called. */
static void close_fold(WatcherObject *self) {
  if (self->fold >= 0)
    close(self->fold);
  self->fold = -1;
  self->folded = 0;
}

/* vigil_close, then tell whoever waits in close(). GIL held. */
static void finish_close(WatcherObject *self) {
  vigil_t *v = self->v;
  Py_BEGIN_ALLOW_THREADS
    vigil_close(v);
    pthread_mutex_lock(&self->mu);
    close_fold(self);
    self->v = NULL;
    batch_free(&self->spare);
    pthread_cond_broadcast(&self->cv);
    pthread_mutex_unlock(&self->mu);
  Py_END_ALLOW_THREADS
}

/* Runs Python code (fn) as the callback thread: a close() from it defers. */
static unsigned long cb_begin(WatcherObject *self) {
  unsigned long prev = self->cb_thread;
  self->cb_thread = PyThread_get_thread_ident();
  return prev;
}

/*
 * The one descriptor to wait on, readable when read() has something to
 * do. Where vigil_wait_fds lists vigil_fd alone (Linux's platform layer,
 * whose epoll descriptor holds every source), that is vigil_fd. Where it
 * lists more (the POSIX layer: its pipe, each backend's descriptor, and
 * the mount table's, for POLLPRI), it is an epoll descriptor of ours that
 * holds them all, so that asyncio's add_reader, a green select and the
 * Observer still wait on one descriptor per watcher; on macOS or a BSD a
 * kqueue descriptor would nest the same way. Its deadlines come with it
 * (due_ms). The list only grows, at its end, when a root brings a backend
 * no root used before, so the descriptors not yet held are added on each
 * call. A registered user; returns the descriptor or a negative error.
 */
#define WAIT_FDS_MAX 16
static int wait_fd(WatcherObject *self) {
  vigil_wait_fd fds[WAIT_FDS_MAX];
  int n = vigil_wait_fds(self->v, fds, WAIT_FDS_MAX);
  if (n < 0)
    return n;
  if (n > WAIT_FDS_MAX)
    return -EMFILE;
  if (n == 1 && fds[0].events == VIGIL_WAIT_IN)
    return fds[0].fd;
  int rc = 0;
  pthread_mutex_lock(&self->mu);
  if (self->fold < 0 && (self->fold = epoll_create1(EPOLL_CLOEXEC)) < 0)
    rc = -errno;
  for (; rc == 0 && self->folded < n; self->folded++) {
    const vigil_wait_fd *f = &fds[self->folded];
    struct epoll_event ev = {.events = (f->events & VIGIL_WAIT_IN ? EPOLLIN : 0u) |
                                       (f->events & VIGIL_WAIT_PRI ? EPOLLPRI : 0u),
                             .data.fd = f->fd};
    if (epoll_ctl(self->fold, EPOLL_CTL_ADD, f->fd, &ev) < 0 && errno != EEXIST)
      rc = -errno;
  }
  if (rc == 0)
    rc = self->fold;
  pthread_mutex_unlock(&self->mu);
  return rc;
}

/*
 * How long a wait on wait_fd may last before read() must look even if
 * nothing became readable (a rename held back for its pair, on the POSIX
 * layer): milliseconds, or -1 for no limit. A registered user.
 */
static int due_ms(WatcherObject *self) {
  int t;
  return vigil_timeout(self->v, &t) < 0 ? -1 : t;
}

/* The shorter of two waits in milliseconds, -1 being the longest. */
static int shorter(int a, int b) {
  return a < 0 ? b : b < 0 ? a : a < b ? a : b;
}

static void cb_end(WatcherObject *self, unsigned long prev) {
  self->cb_thread = prev;
}

static int check_signals(WatcherObject *self) {
  unsigned long prev = cb_begin(self);
  int rc = PyErr_CheckSignals();
  cb_end(self, prev);
  return rc;
}

/*
 * vigil_add's progress callback, every 256 directories: abandons the add
 * when the watcher is being closed, or when a signal handler raised. It
 * runs on the adding thread, without the GIL, with opmu held.
 */
static int on_progress(void *userdata, size_t dirs) {
  (void)dirs;
  WatcherObject *self = userdata;
  if (__atomic_load_n(&self->closing, __ATOMIC_RELAXED))
    return 1;
  if (!self->add_sig || !self->add_sig->active || !self->add_ts)
    return 0;
  struct pollfd p = {.fd = sigpipe[0], .events = POLLIN};
  if (poll(&p, 1, 0) <= 0)
    return 0;
  PyEval_RestoreThread(self->add_ts);
  sig_forward(self->add_sig);
  int rc = check_signals(self);
  self->add_ts = PyEval_SaveThread();
  return rc < 0 || __atomic_load_n(&self->closing, __ATOMIC_RELAXED);
}

/* Encodes a path-like object; sets *mode to 1 for bytes, 0 for str. */
static PyObject *encode_path(PyObject *obj, int *mode) {
  PyObject *p = PyOS_FSPath(obj);
  if (!p)
    return NULL;
  PyObject *b;
  if (PyBytes_Check(p)) {
    *mode = 1;
    b = p;
  } else {
    *mode = 0;
    b = PyUnicode_EncodeFSDefault(p);
    Py_DECREF(p);
    if (!b)
      return NULL;
  }
  if ((size_t)PyBytes_GET_SIZE(b) != strlen(PyBytes_AS_STRING(b))) {
    PyErr_SetString(PyExc_ValueError, "embedded null byte in path");
    Py_DECREF(b);
    return NULL;
  }
  return b;
}

/*
 * vigil_add without the GIL, interruptible by signals in the main thread.
 * The caller has made sure nobody else uses self->v concurrently, or is a
 * registered user. GIL held on entry and exit; 0 or -1 with an exception.
 */
static int do_add(WatcherObject *self, PyObject *given, const char *path, unsigned flags,
                  const vigil_root_options *ro) {
  sigguard g;
  int rc;
  for (;;) {
    sig_install(&g);
    PyThreadState *ts = PyEval_SaveThread();
    pthread_mutex_lock(&self->opmu);
    self->in_add = 1;
    self->add_sig = &g;
    self->add_ts = ts;
    rc = vigil_add_opts(self->v, path, flags, ro);
    ts = self->add_ts; /* the progress callback may have taken the GIL and given it back */
    self->add_ts = NULL;
    self->add_sig = NULL;
    self->in_add = 0;
    pthread_mutex_unlock(&self->opmu);
    PyEval_RestoreThread(ts);
    sig_restore(&g);
    if (rc != -ECANCELED)
      break;
    if (PyErr_Occurred())
      return -1;
    if (self->closing) {
      closed_error();
      return -1;
    }
    /* Cancelled for a signal whose handler did not raise: start again. */
  }
  if (rc < 0) {
    set_vigil_error(rc, given);
    return -1;
  }
  return 0;
}

static int parse_events(PyObject *events, unsigned *mask) {
  *mask = 0;
  if (events == Py_None)
    return 0;
  PyObject *it;
  if (PyUnicode_Check(events)) {
    PyObject *one = PyTuple_Pack(1, events);
    if (!one)
      return -1;
    it = PyObject_GetIter(one);
    Py_DECREF(one);
  } else
    it = PyObject_GetIter(events);
  if (!it)
    return -1;
  PyObject *item;
  while ((item = PyIter_Next(it))) {
    if (!PyUnicode_Check(item)) {
      PyErr_Format(PyExc_TypeError, "event kinds are strings, not %.100s", Py_TYPE(item)->tp_name);
      Py_DECREF(item);
      break;
    }
    const char *name = PyUnicode_AsUTF8(item);
    vigil_kind k = name ? vigil_kind_parse(name) : 0;
    if (!k && name)
      PyErr_Format(PyExc_ValueError, "unknown event kind: %R", item);
    Py_DECREF(item);
    if (!k)
      break;
    *mask |= VIGIL_MASK(k);
  }
  Py_DECREF(it);
  if (PyErr_Occurred())
    return -1;
  if (*mask == 0) {
    PyErr_SetString(PyExc_ValueError, "events= selects no kind; pass None for all");
    return -1;
  }
  return 0;
}

/* A list of encoded byte strings from an iterable of path-like objects. */
static PyObject *encode_list(PyObject *seq, const char *what) {
  PyObject *out = PyList_New(0);
  if (!out)
    return NULL;
  if (seq == Py_None)
    return out;
  if (PyUnicode_Check(seq) || PyBytes_Check(seq)) {
    PyErr_Format(PyExc_TypeError, "%s must be a sequence of patterns, not a single string", what);
    Py_DECREF(out);
    return NULL;
  }
  PyObject *it = PyObject_GetIter(seq);
  if (!it) {
    Py_DECREF(out);
    return NULL;
  }
  PyObject *item;
  while ((item = PyIter_Next(it))) {
    int mode;
    PyObject *b = encode_path(item, &mode);
    Py_DECREF(item);
    if (!b || PyList_Append(out, b) < 0) {
      Py_XDECREF(b);
      break;
    }
    Py_DECREF(b);
  }
  Py_DECREF(it);
  if (PyErr_Occurred()) {
    Py_DECREF(out);
    return NULL;
  }
  return out;
}

static PyObject *Watcher_new(PyTypeObject *type, PyObject *args, PyObject *kwds) {
  (void)args;
  (void)kwds;
  WatcherObject *self = (WatcherObject *)type->tp_alloc(type, 0);
  if (!self)
    return NULL;
  self->roots = PyList_New(0);
  if (!self->roots) {
    Py_DECREF(self);
    return NULL;
  }
  if (pthread_mutex_init(&self->mu, NULL) || pthread_cond_init(&self->cv, NULL) ||
      pthread_mutex_init(&self->opmu, NULL)) {
    Py_DECREF(self);
    return PyErr_NoMemory();
  }
  self->sync_init = 1;
  self->gen = current_gen();
  self->fold = -1;
  return (PyObject *)self;
}

/* The backends built into libvigil, as a tuple of str. */
static PyObject *backend_names(void) {
  size_t n = 0;
  while (vigil_backend_name(n))
    n++;
  PyObject *t = PyTuple_New((Py_ssize_t)n);
  for (size_t i = 0; t && i < n; i++) {
    PyObject *s = PyUnicode_FromString(vigil_backend_name(i));
    if (!s) {
      Py_CLEAR(t);
      break;
    }
    PyTuple_SET_ITEM(t, (Py_ssize_t)i, s);
  }
  return t;
}

/* Whether name is "auto" or a backend built in; if not, a ValueError that lists them. */
static int backend_known(const char *name) {
  if (strcmp(name, "auto") == 0)
    return 1;
  for (size_t i = 0; vigil_backend_name(i); i++)
    if (strcmp(vigil_backend_name(i), name) == 0)
      return 1;
  PyObject *names = backend_names();
  if (names) {
    PyErr_Format(PyExc_ValueError, "backend '%s' is not built in; use 'auto' or one of %R", name,
                 names);
    Py_DECREF(names);
  }
  return 0;
}

static int Watcher_init(WatcherObject *self, PyObject *args, PyObject *kwds) {
  static char *kwlist[] = {"paths",       "exclude", "events",        "recursive",
                           "ignore_file", "backend", "poll_interval", NULL};
  PyObject *paths, *exclude = Py_None, *events = Py_None, *ignore_file = Py_None;
  PyObject *poll_interval = Py_None;
  const char *backend = NULL;
  int recursive = 1;
  if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|$OOpOzO:Watcher", kwlist, &paths, &exclude,
                                   &events, &recursive, &ignore_file, &backend, &poll_interval))
    return -1;
  if (self->v || self->closing) {
    PyErr_SetString(PyExc_RuntimeError, "Watcher.__init__ called twice");
    return -1;
  }
  int rc = -1;
  PyObject *roots = NULL, *given = NULL, *pats = NULL, *ign = NULL;
  const char **patv = NULL;
  vigil_options opt;
  vigil_options_init(&opt);

  /* One path, or an iterable of them. */
  if (PyUnicode_Check(paths) || PyBytes_Check(paths) || PyObject_HasAttrString(paths, "__fspath__"))
    paths = PyTuple_Pack(1, paths);
  else
    paths = PySequence_Tuple(paths);
  if (!paths)
    return -1;
  Py_ssize_t n = PyTuple_GET_SIZE(paths);
  roots = PyList_New(0);
  given = PyList_New(0);
  if (!roots || !given)
    goto out;
  int mode = -1;
  for (Py_ssize_t i = 0; i < n; i++) {
    int m;
    PyObject *b = encode_path(PyTuple_GET_ITEM(paths, i), &m);
    if (!b)
      goto out;
    PyObject *g = PyOS_FSPath(PyTuple_GET_ITEM(paths, i));
    if (!g || PyList_Append(roots, b) < 0 || PyList_Append(given, g) < 0) {
      Py_DECREF(b);
      Py_XDECREF(g);
      goto out;
    }
    Py_DECREF(b);
    Py_DECREF(g);
    if (mode >= 0 && m != mode) {
      PyErr_SetString(PyExc_TypeError, "paths mix str and bytes");
      goto out;
    }
    mode = m;
  }
  self->bytes_mode = mode == 1;

  if (parse_events(events, &opt.events) < 0)
    goto out;
  pats = encode_list(exclude, "exclude");
  if (!pats)
    goto out;
  Py_ssize_t np = PyList_GET_SIZE(pats);
  if (np) {
    patv = PyMem_Calloc((size_t)np, sizeof *patv);
    if (!patv) {
      PyErr_NoMemory();
      goto out;
    }
    for (Py_ssize_t i = 0; i < np; i++)
      patv[i] = PyBytes_AS_STRING(PyList_GET_ITEM(pats, i));
  }
  opt.exclude = patv;
  opt.exclude_count = (size_t)np;
  if (ignore_file != Py_None) {
    int m;
    ign = encode_path(ignore_file, &m);
    if (!ign)
      goto out;
    opt.ignore_file = PyBytes_AS_STRING(ign);
  }
  opt.progress = on_progress;
  opt.progress_userdata = self;
  opt.backend = backend;
  if (poll_interval != Py_None) {
    /* Seconds, as watchdog's PollingObserver(timeout=) takes them. */
    double secs = PyFloat_AsDouble(poll_interval);
    if (secs == -1.0 && PyErr_Occurred())
      goto out;
    if (!(secs > 0) || secs * 1000.0 > INT_MAX) {
      PyErr_SetString(PyExc_ValueError, "poll_interval must be a positive number of seconds");
      goto out;
    }
    opt.poll_interval_ms = secs * 1000.0 < 1.0 ? 1 : (int)(secs * 1000.0 + 0.5);
  }

  vigil_t *v = NULL;
  int r;
  Py_BEGIN_ALLOW_THREADS
    r = vigil_open(&v, &opt);
  Py_END_ALLOW_THREADS
  if (r == VIGIL_ENOBACKEND) {
    PyObject *names = backend_names();
    if (names) {
      PyErr_Format(PyExc_ValueError, "backend '%s' is not built in; use 'auto' or one of %R",
                   backend, names);
      Py_DECREF(names);
    }
    goto out;
  }
  if (r < 0) {
    set_vigil_error(r, NULL);
    goto out;
  }
  self->v = v;
  self->gen = current_gen();
  unsigned flags = recursive ? 0 : VIGIL_NORECURSE;
  for (Py_ssize_t i = 0; i < n; i++) {
    if (do_add(self, PyList_GET_ITEM(given, i), PyBytes_AS_STRING(PyList_GET_ITEM(roots, i)), flags,
               NULL) < 0) {
      self->v = NULL;
      Py_BEGIN_ALLOW_THREADS
        vigil_close(v);
      Py_END_ALLOW_THREADS
      goto out;
    }
  }
  Py_SETREF(self->roots, given);
  given = NULL;
  rc = 0;
out:
  PyMem_Free(patv);
  Py_XDECREF(pats);
  Py_XDECREF(ign);
  Py_XDECREF(roots);
  Py_XDECREF(given);
  Py_DECREF(paths);
  return rc;
}

static void Watcher_dealloc(WatcherObject *self) {
  /* A call in progress holds a reference, so nobody else can be inside. */
  if (self->weakrefs)
    PyObject_ClearWeakRefs((PyObject *)self);
  if (self->v) {
    vigil_t *v = self->v;
    self->v = NULL;
    Py_BEGIN_ALLOW_THREADS
      vigil_close(v);
    Py_END_ALLOW_THREADS
  }
  batch_free(&self->spare);
  close_fold(self);
  if (self->sync_init && !is_forked(self)) {
    pthread_mutex_destroy(&self->mu);
    pthread_cond_destroy(&self->cv);
    pthread_mutex_destroy(&self->opmu);
  }
  Py_XDECREF(self->roots);
  Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *Watcher_close(WatcherObject *self, PyObject *Py_UNUSED(ignored)) {
  if (!self->sync_init)
    Py_RETURN_NONE;
  if (is_forked(self)) {
    /* The child's copy: vigil_close frees it and leaves the parent's
       watches alone. Our mutexes may be stuck in the state a parent thread
       left them in, so they are not touched. */
    vigil_t *v = self->v;
    self->v = NULL;
    vigil_close(v);
    close_fold(self);
    Py_RETURN_NONE;
  }
  pthread_mutex_lock(&self->mu);
  if (!self->v) {
    pthread_mutex_unlock(&self->mu);
    Py_RETURN_NONE;
  }
  if (!self->closing) {
    self->closing = 1;
    vigil_wake(self->v); /* out of poll(), and out of a green wait */
  }
  if (self->users == 0 && !self->finishing) {
    self->finishing = 1;
    pthread_mutex_unlock(&self->mu);
    finish_close(self);
    Py_RETURN_NONE;
  }
  if (self->cb_thread == PyThread_get_thread_ident()) {
    /* From inside one of our own calls on this thread: it closes on exit. */
    pthread_mutex_unlock(&self->mu);
    Py_RETURN_NONE;
  }
  Py_BEGIN_ALLOW_THREADS
    while (self->v)
      pthread_cond_wait(&self->cv, &self->mu);
  Py_END_ALLOW_THREADS
  pthread_mutex_unlock(&self->mu);
  Py_RETURN_NONE;
}

static PyObject *Watcher_fileno(WatcherObject *self, PyObject *Py_UNUSED(ignored)) {
  if (w_enter(self) < 0)
    return NULL;
  int fd = wait_fd(self);
  w_leave(self);
  if (fd < 0)
    return set_vigil_error(fd, NULL);
  return PyLong_FromLong(fd);
}

static PyObject *Watcher_timeout(WatcherObject *self, PyObject *Py_UNUSED(ignored)) {
  if (w_enter(self) < 0)
    return NULL;
  int t = due_ms(self);
  w_leave(self);
  if (t < 0)
    Py_RETURN_NONE;
  return PyFloat_FromDouble(t / 1000.0);
}

static PyObject *Watcher_wake(WatcherObject *self, PyObject *Py_UNUSED(ignored)) {
  if (w_enter(self) < 0)
    return NULL;
  __atomic_store_n(&self->woken, 1, __ATOMIC_SEQ_CST);
  int r = vigil_wake(self->v);
  w_leave(self);
  if (r < 0)
    return set_vigil_error(r, NULL);
  Py_RETURN_NONE;
}

/* timeout in seconds (None: for ever) to milliseconds (-1: for ever). */
static int parse_timeout(PyObject *timeout, int *ms) {
  if (timeout == Py_None) {
    *ms = -1;
    return 0;
  }
  double t = PyFloat_AsDouble(timeout);
  if (t == -1.0 && PyErr_Occurred())
    return -1;
  if (!(t >= 0)) {
    PyErr_SetString(PyExc_ValueError, "timeout must be a non-negative number or None");
    return -1;
  }
  double m = t * 1000.0;
  *ms = m > (double)(INT_MAX / 2) ? INT_MAX / 2 : (int)m + ((double)(int)m < m);
  return 0;
}

/*
 * One pass of draining, without the GIL and under opmu. Returns a list,
 * or NULL with an exception. *empty is set when nothing was ready.
 */
static PyObject *drain(WatcherObject *self, size_t max, int *empty) {
  batch b;
  pthread_mutex_lock(&self->mu);
  b = self->spare;
  memset(&self->spare, 0, sizeof self->spare);
  pthread_mutex_unlock(&self->mu);
  b.n = 0;
  b.len = 0;
  int r;
  Py_BEGIN_ALLOW_THREADS
    pthread_mutex_lock(&self->opmu);
    r = batch_fill(self->v, &b, max);
    pthread_mutex_unlock(&self->opmu);
  Py_END_ALLOW_THREADS
  PyObject *list = NULL;
  *empty = b.n == 0;
  if (b.n)
    list = batch_list(&b, self->bytes_mode);
  else if (r < 0)
    set_vigil_error(r, NULL);
  else
    list = PyList_New(0);
  pthread_mutex_lock(&self->mu);
  if (!self->spare.recs && b.cap <= 4 * DEFAULT_MAX_EVENTS) {
    self->spare = b;
    memset(&b, 0, sizeof b);
  }
  pthread_mutex_unlock(&self->mu);
  batch_free(&b);
  return list;
}

/*
 * The read loop. With wait == NULL it blocks in poll() without the GIL;
 * otherwise it calls wait(fd, seconds_or_None) with the GIL held (the
 * package passes gevent's or eventlet's cooperative select here).
 */
static PyObject *read_loop(WatcherObject *self, int timeout_ms, size_t max, PyObject *wait) {
  if (w_enter(self) < 0)
    return NULL;
  int64_t deadline = timeout_ms > 0 ? now_ms() + timeout_ms : 0;
  PyObject *result = NULL;
  for (;;) {
    int empty;
    PyObject *list = drain(self, max, &empty);
    if (!list || !empty || self->closing) {
      result = list;
      break;
    }
    if (__atomic_exchange_n(&self->woken, 0, __ATOMIC_SEQ_CST)) {
      result = list;
      break;
    }
    int left = -1;
    if (timeout_ms == 0)
      left = 0;
    else if (timeout_ms > 0) {
      int64_t l = deadline - now_ms();
      left = l > 0 ? (int)l : 0;
    }
    if (left == 0) {
      result = list;
      break;
    }
    Py_DECREF(list);
    int fd = wait_fd(self);
    if (fd < 0) {
      set_vigil_error(fd, NULL);
      break;
    }
    /* Not past vigil's own deadline, which no descriptor may carry: the loop reads then. */
    left = shorter(left, due_ms(self));
    if (wait && wait != Py_None) {
      unsigned long prev = cb_begin(self);
      PyObject *r = left < 0 ? PyObject_CallFunction(wait, "iO", fd, Py_None)
                             : PyObject_CallFunction(wait, "id", fd, left / 1000.0);
      cb_end(self, prev);
      if (!r)
        break;
      Py_DECREF(r);
      continue;
    }
    sigguard g;
    sig_install(&g);
    /* A signal that came before the pipe was in place is handled now. */
    if (g.active && check_signals(self) < 0) {
      sig_restore(&g);
      break;
    }
    struct pollfd p[2] = {{.fd = fd, .events = POLLIN}, {.fd = sigpipe[0], .events = POLLIN}};
    int pr, err;
    Py_BEGIN_ALLOW_THREADS
      pr = poll(p, g.active ? 2 : 1, left);
      err = errno;
    Py_END_ALLOW_THREADS
    int sig = g.active && pr > 0 && (p[1].revents & POLLIN);
    sig_restore(&g);
    if ((pr < 0 && err == EINTR) || sig) {
      if (check_signals(self) < 0)
        break;
    } else if (pr < 0) {
      errno = err;
      PyErr_SetFromErrno(PyExc_OSError);
      break;
    }
  }
  w_leave(self);
  return result;
}

static PyObject *Watcher_read(WatcherObject *self, PyObject *args, PyObject *kwds) {
  static char *kwlist[] = {"timeout", "max_events", "_wait", NULL};
  PyObject *timeout = Py_None, *wait = Py_None;
  Py_ssize_t max = DEFAULT_MAX_EVENTS;
  if (!PyArg_ParseTupleAndKeywords(args, kwds, "|On$O:read", kwlist, &timeout, &max, &wait))
    return NULL;
  int ms;
  if (parse_timeout(timeout, &ms) < 0)
    return NULL;
  if (max < 1) {
    PyErr_SetString(PyExc_ValueError, "max_events must be at least 1");
    return NULL;
  }
  return read_loop(self, ms, (size_t)max, wait);
}

/* A NULL-terminated array of the bytes in pats (a list from encode_list), or NULL. */
static const char **pattern_array(PyObject *pats) {
  Py_ssize_t np = PyList_GET_SIZE(pats);
  /* Not NULL even when empty: no patterns at all. */
  const char **patv = PyMem_Calloc((size_t)np + 1, sizeof *patv);
  if (!patv) {
    PyErr_NoMemory();
    return NULL;
  }
  for (Py_ssize_t i = 0; i < np; i++)
    patv[i] = PyBytes_AS_STRING(PyList_GET_ITEM(pats, i));
  return patv;
}

/*
 * add(path, recursive=True, *, exclude=None, ignore_file=None,
 * backend=None, base_exclude=None): None keeps the Watcher's patterns or
 * ignore file for this root; a sequence (empty too) or a name ("" for
 * none) replaces them for it. base_exclude: patterns below the ignore
 * files (the Watcher has none).
 */
static PyObject *Watcher_add(WatcherObject *self, PyObject *args, PyObject *kwds) {
  static char *kwlist[] = {"path",    "recursive",    "exclude", "ignore_file",
                           "backend", "base_exclude", NULL};
  PyObject *path, *exclude = Py_None, *ignore_file = Py_None, *base_exclude = Py_None;
  const char *backend = NULL;
  int recursive = 1;
  if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|p$OOzO:add", kwlist, &path, &recursive, &exclude,
                                   &ignore_file, &backend, &base_exclude))
    return NULL;
  if (backend && !backend_known(backend))
    return NULL;
  int mode;
  PyObject *b = encode_path(path, &mode);
  if (!b)
    return NULL;
  PyObject *given = PyOS_FSPath(path), *pats = NULL, *ign = NULL, *base = NULL;
  const char **patv = NULL, **basev = NULL;
  if (!given) {
    Py_DECREF(b);
    return NULL;
  }
  if (PyList_GET_SIZE(self->roots) && mode != self->bytes_mode) {
    PyErr_SetString(PyExc_TypeError, "paths mix str and bytes");
    goto fail;
  }
  vigil_root_options ro;
  vigil_root_options_init(&ro);
  if (exclude != Py_None) {
    pats = encode_list(exclude, "exclude");
    if (!pats || !(patv = pattern_array(pats)))
      goto fail;
    ro.exclude = patv;
    ro.exclude_count = (size_t)PyList_GET_SIZE(pats);
  }
  if (base_exclude != Py_None) {
    base = encode_list(base_exclude, "base_exclude");
    if (!base || !(basev = pattern_array(base)))
      goto fail;
    ro.base_exclude = basev;
    ro.base_exclude_count = (size_t)PyList_GET_SIZE(base);
  }
  if (ignore_file != Py_None) {
    int m;
    ign = encode_path(ignore_file, &m);
    if (!ign)
      goto fail;
    ro.ignore_file = PyBytes_AS_STRING(ign);
  }
  ro.backend = backend;
  if (w_enter(self) < 0)
    goto fail;
  int rc = do_add(self, given, PyBytes_AS_STRING(b), recursive ? 0 : VIGIL_NORECURSE, &ro);
  w_leave(self);
  if (rc < 0)
    goto fail;
  if (PyList_GET_SIZE(self->roots) == 0)
    self->bytes_mode = mode;
  if (PyList_Append(self->roots, given) < 0)
    goto fail;
  PyMem_Free(patv);
  PyMem_Free(basev);
  Py_XDECREF(pats);
  Py_XDECREF(base);
  Py_XDECREF(ign);
  Py_DECREF(b);
  Py_DECREF(given);
  Py_RETURN_NONE;
fail:
  PyMem_Free(patv);
  PyMem_Free(basev);
  Py_XDECREF(pats);
  Py_XDECREF(base);
  Py_XDECREF(ign);
  Py_DECREF(b);
  Py_DECREF(given);
  return NULL;
}

static PyObject *Watcher_backend(WatcherObject *self, PyObject *path) {
  int mode;
  PyObject *b = encode_path(path, &mode);
  if (!b)
    return NULL;
  if (w_enter(self) < 0) {
    Py_DECREF(b);
    return NULL;
  }
  const char *name = NULL;
  int rc = vigil_root_backend(self->v, PyBytes_AS_STRING(b), &name);
  w_leave(self);
  Py_DECREF(b);
  if (rc < 0) {
    PyObject *given = PyOS_FSPath(path);
    if (given) {
      set_vigil_error(rc, given);
      Py_DECREF(given);
    }
    return NULL;
  }
  return PyUnicode_FromString(name);
}

static PyObject *Watcher_remove(WatcherObject *self, PyObject *path) {
  int mode;
  PyObject *b = encode_path(path, &mode);
  if (!b)
    return NULL;
  PyObject *given = PyOS_FSPath(path);
  if (!given || w_enter(self) < 0) {
    Py_DECREF(b);
    Py_XDECREF(given);
    return NULL;
  }
  int rc;
  Py_BEGIN_ALLOW_THREADS
    pthread_mutex_lock(&self->opmu);
    rc = vigil_remove(self->v, PyBytes_AS_STRING(b));
    pthread_mutex_unlock(&self->opmu);
  Py_END_ALLOW_THREADS
  w_leave(self);
  Py_DECREF(b);
  if (rc < 0) {
    set_vigil_error(rc, given);
    Py_DECREF(given);
    return NULL;
  }
  for (Py_ssize_t i = 0; i < PyList_GET_SIZE(self->roots); i++) {
    int eq = PyObject_RichCompareBool(PyList_GET_ITEM(self->roots, i), given, Py_EQ);
    if (eq < 0) {
      Py_DECREF(given);
      return NULL;
    }
    if (eq) {
      PySequence_DelItem(self->roots, i);
      break;
    }
  }
  Py_DECREF(given);
  Py_RETURN_NONE;
}

static PyObject *Watcher_stats(WatcherObject *self, PyObject *Py_UNUSED(ignored)) {
  if (w_enter(self) < 0)
    return NULL;
  vigil_stats st;
  int rc;
  Py_BEGIN_ALLOW_THREADS
    pthread_mutex_lock(&self->opmu);
    rc = vigil_get_stats(self->v, &st, sizeof st);
    pthread_mutex_unlock(&self->opmu);
  Py_END_ALLOW_THREADS
  w_leave(self);
  if (rc < 0)
    return set_vigil_error(rc, NULL);
  return Py_BuildValue("{snsnsnsn}", "roots", (Py_ssize_t)st.roots, "dirs", (Py_ssize_t)st.dirs,
                       "entries", (Py_ssize_t)st.entries, "watches", (Py_ssize_t)st.watches);
}

static PyObject *Watcher_enter(WatcherObject *self, PyObject *Py_UNUSED(ignored)) {
  if (!self->v)
    return closed_error();
  Py_INCREF(self);
  return (PyObject *)self;
}

static PyObject *Watcher_exit(WatcherObject *self, PyObject *Py_UNUSED(args)) {
  return Watcher_close(self, NULL);
}

static PyObject *Watcher_get_closed(WatcherObject *self, void *Py_UNUSED(closure)) {
  return PyBool_FromLong(self->v == NULL || self->closing);
}

static PyObject *Watcher_get_paths(WatcherObject *self, void *Py_UNUSED(closure)) {
  return PyList_AsTuple(self->roots);
}

static PyObject *Watcher_repr(WatcherObject *self) {
  return PyUnicode_FromFormat("<%s paths=%R%s>", Py_TYPE(self)->tp_name, self->roots,
                              self->v && !self->closing ? "" : " closed");
}

static PyMethodDef Watcher_methods[] = {
    {"read", (PyCFunction)(void (*)(void))Watcher_read, METH_VARARGS | METH_KEYWORDS,
     "read(timeout=None, max_events=4096)\n--\n\n"
     "Returns a list of the events that are ready, up to max_events. Blocks\n"
     "(without the GIL) until at least one is, or timeout seconds pass, or\n"
     "wake() or close() is called; then the list may be empty. Signal\n"
     "handlers run while it waits, so Ctrl-C raises KeyboardInterrupt."},
    {"fileno", (PyCFunction)Watcher_fileno, METH_NOARGS,
     "The descriptor that polls readable when read() would not block, or has\n"
     "something to do; wait on it no longer than timeout() says."},
    {"timeout", (PyCFunction)Watcher_timeout, METH_NOARGS,
     "timeout()\n--\n\n"
     "How long a wait on fileno() may last, in seconds, before read(0) must\n"
     "be called even if nothing became readable (a rename held back for its\n"
     "pair, say), or None for no limit. Always None on Linux's platform\n"
     "layer; ask again after each read."},
    {"wake", (PyCFunction)Watcher_wake, METH_NOARGS,
     "Makes a blocked read() return (or the next one). Safe from any thread."},
    {"add", (PyCFunction)(void (*)(void))Watcher_add, METH_VARARGS | METH_KEYWORDS,
     "add(path, recursive=True, *, exclude=None, ignore_file=None, backend=None, "
     "base_exclude=None)\n--\n\n"
     "Watches one more root. exclude and ignore_file, unless None, replace\n"
     "the Watcher's for this root: patterns relative to it, and the name of\n"
     "its per-directory ignore files (\"\" for none). base_exclude: patterns\n"
     "relative to it that rank below its ignore files, as git's\n"
     "info/exclude and global file do (exclude ranks above them). backend,\n"
     "unless None, replaces the Watcher's: \"auto\" or a name from\n"
     "vigil.backends(). A root inside another one (or holding one) that\n"
     "another backend watches is refused with ValueError."},
    {"backend", (PyCFunction)Watcher_backend, METH_O,
     "backend(path)\n--\n\nThe name of the backend that watches the root path, such as "
     "\"inotify\"."},
    {"remove", (PyCFunction)Watcher_remove, METH_O,
     "remove(path)\n--\n\nStops watching a root given before."},
    {"stats", (PyCFunction)Watcher_stats, METH_NOARGS, "Counters: roots, dirs, entries, watches."},
    {"close", (PyCFunction)Watcher_close, METH_NOARGS,
     "Releases everything; a read() blocked in another thread returns. Idempotent."},
    {"__enter__", (PyCFunction)Watcher_enter, METH_NOARGS, NULL},
    {"__exit__", (PyCFunction)Watcher_exit, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL}};

static PyGetSetDef Watcher_getset[] = {
    {"closed", (getter)Watcher_get_closed, NULL, "True once close() was called", NULL},
    {"paths", (getter)Watcher_get_paths, NULL, "the roots, as given", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PyTypeObject WatcherType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "vigil._vigil.Watcher",
    .tp_basicsize = sizeof(WatcherObject),
    .tp_dealloc = (destructor)Watcher_dealloc,
    .tp_repr = (reprfunc)Watcher_repr,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "Watcher(paths, *, exclude=(), events=None, recursive=True, ignore_file=None)\n--\n\n"
              "Watches directories (recursively) and files for changes.",
    .tp_weaklistoffset = offsetof(WatcherObject, weakrefs),
    .tp_methods = Watcher_methods,
    .tp_getset = Watcher_getset,
    .tp_init = (initproc)Watcher_init,
    .tp_new = Watcher_new,
};

/* ------------------------------------------------------------------ */
/* Module functions                                                    */
/* ------------------------------------------------------------------ */

/*
 * _poll(fds, timeout): the subset of fds that are readable, waiting up to
 * timeout seconds (None: for ever) without the GIL. For the Observer's
 * thread, which waits on several watchers and its own stop pipe.
 */
static PyObject *mod_poll(PyObject *Py_UNUSED(mod), PyObject *args) {
  PyObject *fds, *timeout = Py_None;
  if (!PyArg_ParseTuple(args, "O|O:_poll", &fds, &timeout))
    return NULL;
  int ms;
  if (parse_timeout(timeout, &ms) < 0)
    return NULL;
  PyObject *seq = PySequence_Fast(fds, "fds must be a sequence");
  if (!seq)
    return NULL;
  Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
  struct pollfd *p = PyMem_Calloc(n ? (size_t)n : 1, sizeof *p);
  if (!p) {
    Py_DECREF(seq);
    return PyErr_NoMemory();
  }
  for (Py_ssize_t i = 0; i < n; i++) {
    p[i].fd = PyObject_AsFileDescriptor(PySequence_Fast_GET_ITEM(seq, i));
    p[i].events = POLLIN;
    if (p[i].fd < 0) {
      PyMem_Free(p);
      Py_DECREF(seq);
      return NULL;
    }
  }
  int64_t deadline = ms > 0 ? now_ms() + ms : 0;
  int r, err;
  for (;;) {
    Py_BEGIN_ALLOW_THREADS
      r = poll(p, (nfds_t)n, ms);
      err = errno;
    Py_END_ALLOW_THREADS
    if (r >= 0 || err != EINTR)
      break;
    if (PyErr_CheckSignals() < 0) {
      PyMem_Free(p);
      Py_DECREF(seq);
      return NULL;
    }
    if (ms > 0) {
      int64_t l = deadline - now_ms();
      ms = l > 0 ? (int)l : 0;
    }
  }
  PyObject *out = NULL;
  if (r < 0) {
    errno = err;
    PyErr_SetFromErrno(PyExc_OSError);
  } else if ((out = PyList_New(0))) {
    for (Py_ssize_t i = 0; i < n; i++)
      if (p[i].revents && PyList_Append(out, PySequence_Fast_GET_ITEM(seq, i)) < 0) {
        Py_CLEAR(out);
        break;
      }
  }
  PyMem_Free(p);
  Py_DECREF(seq);
  return out;
}

static PyObject *mod_strerror(PyObject *Py_UNUSED(mod), PyObject *arg) {
  int code = (int)PyLong_AsLong(arg);
  if (code == -1 && PyErr_Occurred())
    return NULL;
  return PyUnicode_FromString(vigil_strerror(code));
}

/*
 * A small eventfd for the Observer's thread to wait on beside its
 * watchers. Plain system calls on purpose: eventlet replaces os.read and
 * os.write with versions that wait for the descriptor instead of failing
 * with EAGAIN, which is not what draining a wakeup needs.
 */
static PyObject *mod_eventfd(PyObject *Py_UNUSED(mod), PyObject *Py_UNUSED(arg)) {
  int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (fd < 0)
    return PyErr_SetFromErrno(PyExc_OSError);
  return PyLong_FromLong(fd);
}

static PyObject *mod_eventfd_set(PyObject *Py_UNUSED(mod), PyObject *arg) {
  int fd = PyObject_AsFileDescriptor(arg);
  if (fd < 0)
    return NULL;
  uint64_t one = 1;
  if (write(fd, &one, sizeof one) < 0 && errno != EAGAIN)
    return PyErr_SetFromErrno(PyExc_OSError);
  Py_RETURN_NONE;
}

static PyObject *mod_eventfd_clear(PyObject *Py_UNUSED(mod), PyObject *arg) {
  int fd = PyObject_AsFileDescriptor(arg);
  if (fd < 0)
    return NULL;
  uint64_t n;
  if (read(fd, &n, sizeof n) < 0 && errno != EAGAIN)
    return PyErr_SetFromErrno(PyExc_OSError);
  Py_RETURN_NONE;
}

static PyObject *mod_backends(PyObject *Py_UNUSED(mod), PyObject *Py_UNUSED(ignored)) {
  return backend_names();
}

static PyMethodDef module_methods[] = {
    {"_eventfd", mod_eventfd, METH_NOARGS, "_eventfd() -> a non-blocking eventfd"},
    {"_eventfd_set", mod_eventfd_set, METH_O, "_eventfd_set(fd): makes it readable"},
    {"_eventfd_clear", mod_eventfd_clear, METH_O, "_eventfd_clear(fd): makes it unreadable"},
    {"_poll", mod_poll, METH_VARARGS, "_poll(fds, timeout=None) -> the readable ones"},
    {"strerror", mod_strerror, METH_O,
     "strerror(code)\n--\n\nlibvigil's message for an error code."},
    {"backends", mod_backends, METH_NOARGS,
     "backends()\n--\n\nThe names of the backends built into libvigil, most preferred first."},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef vigil_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "vigil._vigil",
    .m_doc = "The C part of vigil: Watcher, Event, ForkedError.",
    .m_size = -1,
    .m_methods = module_methods,
};

PyMODINIT_FUNC PyInit__vigil(void) {
  if (PyType_Ready(&EventType) < 0 || PyType_Ready(&WatcherType) < 0)
    return NULL;
  PyObject *m = PyModule_Create(&vigil_module);
  if (!m)
    return NULL;
  static int atfork_done;
  if (!atfork_done) {
    if (pthread_atfork(NULL, NULL, on_fork_child) != 0) {
      Py_DECREF(m);
      return PyErr_NoMemory();
    }
    atfork_done = 1;
  }
  for (int k = VIGIL_CREATED; k <= VIGIL_KIND_MAX; k++) {
    if (!kind_names[k] &&
        !(kind_names[k] = PyUnicode_InternFromString(vigil_kind_name((vigil_kind)k))))
      goto fail;
    char upper[32];
    const char *name = vigil_kind_name((vigil_kind)k);
    size_t i = 0;
    for (; name[i] && i < sizeof upper - 1; i++)
      upper[i] = (char)(name[i] - ('a' <= name[i] && name[i] <= 'z' ? 'a' - 'A' : 0));
    upper[i] = '\0';
    Py_INCREF(kind_names[k]);
    if (PyModule_AddObject(m, upper, kind_names[k]) < 0) {
      Py_DECREF(kind_names[k]);
      goto fail;
    }
  }
  if (!ForkedError && !(ForkedError = PyErr_NewExceptionWithDoc(
                            "vigil.ForkedError",
                            "A Watcher inherited through fork() was used in the child. Open a "
                            "new one there; close() still works.",
                            PyExc_RuntimeError, NULL)))
    goto fail;
  if (!str_warn_on_full_buffer &&
      !(str_warn_on_full_buffer = PyUnicode_InternFromString("warn_on_full_buffer")))
    goto fail;
  if (!set_wakeup_fd) {
    PyObject *signal = PyImport_ImportModule("signal");
    if (!signal)
      goto fail;
    set_wakeup_fd = PyObject_GetAttrString(signal, "set_wakeup_fd");
    Py_DECREF(signal);
    if (!set_wakeup_fd)
      goto fail;
  }
  Py_INCREF(ForkedError);
  Py_INCREF(&EventType);
  Py_INCREF(&WatcherType);
  if (PyModule_AddObject(m, "ForkedError", ForkedError) < 0 ||
      PyModule_AddObject(m, "Event", (PyObject *)&EventType) < 0 ||
      PyModule_AddObject(m, "Watcher", (PyObject *)&WatcherType) < 0 ||
      PyModule_AddIntConstant(m, "DEFAULT_MAX_EVENTS", DEFAULT_MAX_EVENTS) < 0 ||
      PyModule_AddStringConstant(m, "LIBVIGIL_VERSION", vigil_version_string()) < 0)
    goto fail;
  return m;
fail:
  Py_DECREF(m);
  return NULL;
}
