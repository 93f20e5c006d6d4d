/*
 * libthroughput: what libvigil costs in-process, with no printing.
 *
 *   libthroughput rate DIR ROUNDS BATCH
 *       Watches DIR/tp (ten subdirectories). Each round creates BATCH files
 *       (open O_CREAT, close: the kernel queues IN_CREATE and
 *       IN_CLOSE_WRITE) while nothing reads, then times vigil_read draining
 *       them; then deletes them (IN_DELETE) and times the drain again.
 *       BATCH stays under fs.inotify.max_queued_events / 2 so that nothing
 *       overflows. The same rounds are then drained from a bare inotify
 *       descriptor that only walks the records: the floor.
 *       Prints "vigil events N seconds S" and "raw events N seconds S".
 *
 *   libthroughput stop DIR ITERS
 *       ITERS times: a fresh instance on DIR/st, vigil_start with a callback
 *       that only counts, a writer thread creating, writing and deleting
 *       files as fast as it can, and after 20 ms of that storm,
 *       vigil_stop(v, 0) timed. Prints every time in microseconds and the
 *       number of events dropped.
 *
 *   libthroughput batch DIR FILES PACE_US BATCH_US
 *       What batching in a storm (vigil_options.batch_us) does to the CPU
 *       of a reader. A thread blocks in vigil_read(v, &ev, -1) on DIR/bt,
 *       opened with batch_us = BATCH_US (0: the default, -1: off), while
 *       the main thread creates FILES files (create, write 6 bytes,
 *       close), sleeping PACE_US between files (0: as fast as it can).
 *       When every file has been reported created, the reader is woken and
 *       its CPU time (CLOCK_THREAD_CPUTIME_ID: user and kernel) is read.
 *       Prints "cpu_us N events N created N".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <vigil.h>

#define SUBDIRS 10

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void die(const char *what, int err) {
  fprintf(stderr, "libthroughput: %s: %s\n", what, err < 0 ? vigil_strerror(err) : strerror(errno));
  exit(1);
}

static void make_dirs(const char *top) {
  char p[4096];
  if (mkdir(top, 0755) < 0 && errno != EEXIST)
    die(top, 0);
  for (int i = 0; i < SUBDIRS; i++) {
    snprintf(p, sizeof p, "%s/s%d", top, i);
    if (mkdir(p, 0755) < 0 && errno != EEXIST)
      die(p, 0);
  }
}

static void create_batch(const char *top, long batch) {
  char p[4096];
  for (long i = 0; i < batch; i++) {
    snprintf(p, sizeof p, "%s/s%ld/t%ld", top, i % SUBDIRS, i);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
      die(p, 0);
    close(fd);
  }
}

static void delete_batch(const char *top, long batch) {
  char p[4096];
  for (long i = 0; i < batch; i++) {
    snprintf(p, sizeof p, "%s/s%ld/t%ld", top, i % SUBDIRS, i);
    if (unlink(p) < 0)
      die(p, 0);
  }
}

/* Drains vigil until it has nothing more; returns the number of events. */
static long drain_vigil(vigil_t *v, double *secs) {
  vigil_event ev;
  long n = 0;
  double t0 = now_s();
  int r;
  while ((r = vigil_read(v, &ev, 0)) == 1)
    n++;
  *secs += now_s() - t0;
  if (r < 0)
    die("vigil_read", r);
  return n;
}

/* The floor: read the records and look at each one, nothing more. */
static long drain_raw(int fd, double *secs) {
  static char buf[256 * 1024] __attribute__((aligned(8)));
  long n = 0;
  unsigned long sink = 0;
  double t0 = now_s();
  for (;;) {
    ssize_t got = read(fd, buf, sizeof buf);
    if (got <= 0)
      break;
    for (ssize_t off = 0; off < got;) {
      struct inotify_event *e = (struct inotify_event *)(buf + off);
      sink += e->mask + (e->len ? (unsigned char)e->name[0] : 0);
      off += (ssize_t)sizeof *e + e->len;
      n++;
    }
  }
  *secs += now_s() - t0;
  if (sink == 1) /* keeps the loop from being optimised away */
    fputc(' ', stderr);
  return n;
}

static int cmd_rate(const char *dir, long rounds, long batch) {
  char top[2048];
  snprintf(top, sizeof top, "%s/tp", dir);
  make_dirs(top);

  vigil_t *v;
  int r = vigil_open(&v, NULL);
  if (r < 0)
    die("vigil_open", r);
  if ((r = vigil_add(v, top, 0)) < 0)
    die("vigil_add", r);
  double secs = 0;
  long events = 0;
  for (long i = 0; i < rounds; i++) {
    create_batch(top, batch);
    events += drain_vigil(v, &secs);
    delete_batch(top, batch);
    events += drain_vigil(v, &secs);
  }
  vigil_close(v);
  printf("vigil events %ld seconds %.6f\n", events, secs);

  int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd < 0)
    die("inotify_init1", 0);
  char p[4096];
  uint32_t mask = IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_MODIFY | IN_ATTRIB |
                  IN_CLOSE_WRITE | IN_DELETE_SELF | IN_MOVE_SELF | IN_EXCL_UNLINK | IN_ONLYDIR;
  inotify_add_watch(fd, top, mask);
  for (int i = 0; i < SUBDIRS; i++) {
    snprintf(p, sizeof p, "%s/s%d", top, i);
    inotify_add_watch(fd, p, mask);
  }
  secs = 0;
  events = 0;
  for (long i = 0; i < rounds; i++) {
    create_batch(top, batch);
    events += drain_raw(fd, &secs);
    delete_batch(top, batch);
    events += drain_raw(fd, &secs);
  }
  close(fd);
  printf("raw events %ld seconds %.6f\n", events, secs);
  return 0;
}

static atomic_int writer_run;
static atomic_long delivered;

static void count_cb(vigil_t *v, const vigil_event *ev, void *ud) {
  (void)v;
  (void)ev;
  (void)ud;
  atomic_fetch_add_explicit(&delivered, 1, memory_order_relaxed);
}

static void *writer(void *arg) {
  const char *top = arg;
  char p[4096];
  long i = 0;
  while (atomic_load_explicit(&writer_run, memory_order_relaxed)) {
    snprintf(p, sizeof p, "%s/s%ld/w%ld", top, i % SUBDIRS, i % 1000);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd >= 0) {
      (void)!write(fd, "x", 1);
      close(fd);
    }
    unlink(p);
    i++;
  }
  return NULL;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static int cmd_stop(const char *dir, long iters) {
  char top[2048];
  snprintf(top, sizeof top, "%s/st", dir);
  make_dirs(top);
  double *us = calloc((size_t)iters, sizeof *us);
  if (!us)
    die("calloc", 0);
  long dropped_total = 0;
  for (long i = 0; i < iters; i++) {
    vigil_t *v;
    int r = vigil_open(&v, NULL);
    if (r < 0)
      die("vigil_open", r);
    if ((r = vigil_add(v, top, 0)) < 0)
      die("vigil_add", r);
    atomic_store(&delivered, 0);
    if ((r = vigil_start(v, count_cb, NULL)) < 0)
      die("vigil_start", r);
    atomic_store(&writer_run, 1);
    pthread_t th;
    if (pthread_create(&th, NULL, writer, top) != 0)
      die("pthread_create", 0);
    struct timespec ts = {0, 20 * 1000 * 1000};
    nanosleep(&ts, NULL);
    double t0 = now_s();
    r = vigil_stop(v, 0);
    double t1 = now_s();
    atomic_store(&writer_run, 0);
    pthread_join(th, NULL);
    vigil_close(v);
    if (r < 0)
      die("vigil_stop", r);
    dropped_total += r;
    us[i] = (t1 - t0) * 1e6;
  }
  printf("stop_us");
  for (long i = 0; i < iters; i++)
    printf(" %.1f", us[i]);
  printf("\n");
  qsort(us, (size_t)iters, sizeof *us, cmp_double);
  printf("median_us %.1f max_us %.1f dropped %ld delivered_last %ld\n", us[iters / 2],
         us[iters - 1], dropped_total, atomic_load(&delivered));
  free(us);
  return 0;
}

typedef struct {
  vigil_t *v;
  atomic_long created;
  atomic_long events;
  atomic_int done;
  double cpu_us;
} batch_reader;

static double thread_cpu_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static void *batch_read(void *arg) {
  batch_reader *b = arg;
  double c0 = thread_cpu_us();
  vigil_event ev;
  while (!atomic_load(&b->done)) {
    int r = vigil_read(b->v, &ev, -1);
    if (r < 0)
      die("vigil_read", r);
    if (r == 1) {
      atomic_fetch_add_explicit(&b->events, 1, memory_order_relaxed);
      if (ev.kind == VIGIL_CREATED)
        atomic_fetch_add_explicit(&b->created, 1, memory_order_relaxed);
    }
  }
  b->cpu_us = thread_cpu_us() - c0;
  return NULL;
}

static int cmd_batch(const char *dir, long files, long pace_us, int batch_us) {
  char top[2048], p[4096];
  snprintf(top, sizeof top, "%s/bt", dir);
  if (mkdir(top, 0755) < 0 && errno != EEXIST)
    die("mkdir", errno);
  vigil_options o;
  vigil_options_init(&o);
  o.batch_us = batch_us;
  batch_reader b = {0};
  int r = vigil_open(&b.v, &o);
  if (r < 0)
    die("vigil_open", r);
  if ((r = vigil_add(b.v, top, 0)) < 0)
    die("vigil_add", r);
  pthread_t th;
  if (pthread_create(&th, NULL, batch_read, &b) != 0)
    die("pthread_create", 0);
  struct timespec pace = {pace_us / 1000000, (pace_us % 1000000) * 1000};
  for (long i = 0; i < files; i++) {
    snprintf(p, sizeof p, "%s/b%ld", top, i);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
      die("open", errno);
    (void)!write(fd, "abcdef", 6);
    close(fd);
    if (pace_us)
      nanosleep(&pace, NULL);
  }
  double until = now_s() + 30;
  while (atomic_load(&b.created) < files && now_s() < until) {
    struct timespec ms = {0, 1000000};
    nanosleep(&ms, NULL);
  }
  atomic_store(&b.done, 1);
  vigil_wake(b.v);
  pthread_join(th, NULL);
  vigil_close(b.v);
  for (long i = 0; i < files; i++) {
    snprintf(p, sizeof p, "%s/b%ld", top, i);
    unlink(p);
  }
  rmdir(top);
  printf("cpu_us %.0f events %ld created %ld\n", b.cpu_us, atomic_load(&b.events),
         atomic_load(&b.created));
  return atomic_load(&b.created) == files ? 0 : 1;
}

int main(int argc, char **argv) {
  if (argc == 5 && strcmp(argv[1], "rate") == 0)
    return cmd_rate(argv[2], atol(argv[3]), atol(argv[4]));
  if (argc == 4 && strcmp(argv[1], "stop") == 0)
    return cmd_stop(argv[2], atol(argv[3]));
  if (argc == 6 && strcmp(argv[1], "batch") == 0)
    return cmd_batch(argv[2], atol(argv[3]), atol(argv[4]), atoi(argv[5]));
  fprintf(stderr, "usage: libthroughput rate DIR ROUNDS BATCH\n"
                  "       libthroughput stop DIR ITERS\n"
                  "       libthroughput batch DIR FILES PACE_US BATCH_US\n");
  return 2;
}
