/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * aisio._fil: lib/fil for Python, against the stable ABI (Py_LIMITED_API 3.11, set by the build),
 * so one source builds for 3.11 and 3.12. aisio/fil.py is the face users see; this is the part
 * that has to be C: the dataset handle, the batches and their DLPack export.
 *
 * Ownership of a batch: fil_next hands out a struct fil_batch; a struct batch_ref counts its
 * holders: the Python Batch object and every DLPack export whose deleter has not run. The last
 * one gives the buffer back (fil_batch_release). All counts change with the GIL held (a deleter
 * takes it), so they need no atomics. While a thread waits in fil_next without the GIL, a
 * release is queued on the dataset and done when fil_next returns: fil.h asks for one thread
 * calling fil_* at a time.
 *
 * A dataset closes (fil_dataset_close) when close() was asked for, or the object goes away, and
 * no batch is held; each batch_ref keeps the dataset object alive.
 */
#include <Python.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <aisio/fil.h>
#include <aisio/log.h>
#ifdef AISIO_HAVE_GPU
#include <aisio/fil_gpu.h>
#include <cuda_runtime_api.h>
#endif

#include "dlpack_abi.h"

/* fil_next is called in slices this long, so that Ctrl-C is seen while waiting. */
#define NEXT_SLICE_MS 200

/* ---- the library's messages ---- */

/* The last error message logged on this thread: open errors carry it into the exception. */
static _Thread_local char last_error[512];

/* Errors become exceptions, so only lesser messages go to stderr. No Python call here: the
 * workers log without the GIL, and the GIL's holder may be joining them. */
static void log_hook(void *arg, enum aisio_log_level level, const char *dev, const char *msg)
{
	(void)arg;
	if (level == AISIO_LOG_ERROR) {
		snprintf(last_error, sizeof(last_error), "%s%s%s", dev ? dev : "", dev ? ": " : "", msg);
		return;
	}
	if (dev)
		fprintf(stderr, "aisio: %s: %s\n", dev, msg);
	else
		fprintf(stderr, "aisio: %s\n", msg);
}

static PyObject *set_os_error(int err, const char *msg)
{
	PyObject *args = Py_BuildValue("(is)", err, msg && msg[0] ? msg : strerror(err));
	if (args) {
		PyErr_SetObject(PyExc_OSError, args);
		Py_DECREF(args);
	}
	return NULL;
}

/* ---- types ---- */

static PyObject *dataset_type, *batch_type;

struct batch_ref;

typedef struct {
	PyObject_HEAD struct fil_dataset *ds;
	unsigned timeout_ms;
	unsigned held;             /* batch_refs alive */
	bool closing;              /* close() asked for: done when held reaches 0 */
	bool in_next;              /* a thread waits in fil_next without the GIL */
	int dl_type, dl_id;        /* where the batches live: DL_CPU 0, or DL_CUDA and the device */
	struct batch_ref *pending; /* released while in_next */
} DatasetObject;

struct batch_ref {
	DatasetObject *owner; /* a strong reference */
	struct fil_batch *b;
	unsigned refs;
	struct batch_ref *next_pending;
};

typedef struct {
	PyObject_HEAD struct batch_ref *ref;
} BatchObject;

static void dataset_close_now(DatasetObject *o)
{
	if (o->ds && o->held == 0 && !o->in_next) {
		struct fil_dataset *ds = o->ds;
		o->ds = NULL;
		Py_BEGIN_ALLOW_THREADS fil_dataset_close(ds);
		Py_END_ALLOW_THREADS
	}
}

static void batch_ref_release(struct batch_ref *r)
{
	DatasetObject *o = r->owner;
	fil_batch_release(o->ds, r->b);
	free(r);
	o->held--;
	if (o->closing)
		dataset_close_now(o);
	Py_DECREF((PyObject *)o);
}

static void release_pending(DatasetObject *o)
{
	while (o->pending) {
		struct batch_ref *r = o->pending;
		o->pending = r->next_pending;
		Py_INCREF((PyObject *)o); /* the loop still reads o after the last ref's Py_DECREF */
		batch_ref_release(r);
		Py_DECREF((PyObject *)o);
	}
}

/* With the GIL. */
static void batch_ref_put(struct batch_ref *r)
{
	if (--r->refs)
		return;
	if (r->owner->in_next) {
		r->next_pending = r->owner->pending;
		r->owner->pending = r;
		return;
	}
	batch_ref_release(r);
}

/* ---- DLPack export ---- */

struct dl_export {
	union {
		struct dl_managed_tensor legacy;
		struct dl_managed_tensor_versioned versioned;
	} t;
	int64_t shape[1], strides[1];
	struct batch_ref *ref;
};

static void export_done(struct dl_export *e)
{
	/* A consumer may free its tensor on any thread, or after the interpreter is gone (then the
	 * process is ending and the buffer with it). */
	if (Py_IsInitialized()) {
		PyGILState_STATE g = PyGILState_Ensure();
		batch_ref_put(e->ref);
		PyGILState_Release(g);
	}
	free(e);
}

static void legacy_deleter(struct dl_managed_tensor *self)
{
	export_done(self->manager_ctx);
}

static void versioned_deleter(struct dl_managed_tensor_versioned *self)
{
	export_done(self->manager_ctx);
}

/* A capsule nobody consumed (still under its first name) is ours to delete. */
static void legacy_capsule_destructor(PyObject *cap)
{
	if (PyCapsule_IsValid(cap, DL_CAPSULE_NAME)) {
		struct dl_managed_tensor *m = PyCapsule_GetPointer(cap, DL_CAPSULE_NAME);
		m->deleter(m);
	}
}

static void versioned_capsule_destructor(PyObject *cap)
{
	if (PyCapsule_IsValid(cap, DL_CAPSULE_VERSIONED_NAME)) {
		struct dl_managed_tensor_versioned *m = PyCapsule_GetPointer(cap, DL_CAPSULE_VERSIONED_NAME);
		m->deleter(m);
	}
}

static int parse_version(PyObject *v, long *major, long *minor)
{
	if (!PyTuple_Check(v) || PyTuple_Size(v) != 2) {
		PyErr_SetString(PyExc_TypeError, "max_version must be a (major, minor) tuple or None");
		return -1;
	}
	*major = PyLong_AsLong(PyTuple_GetItem(v, 0));
	*minor = PyLong_AsLong(PyTuple_GetItem(v, 1));
	return PyErr_Occurred() ? -1 : 0;
}

static BatchObject *batch_live(PyObject *self)
{
	BatchObject *b = (BatchObject *)self;
	if (!b->ref) {
		PyErr_SetString(PyExc_ValueError, "the batch was released");
		return NULL;
	}
	return b;
}

static PyObject *batch_dlpack(PyObject *self, PyObject *args, PyObject *kw)
{
	static char *names[] = {"stream", "max_version", "dl_device", "copy", NULL};
	PyObject *stream = Py_None, *max_version = Py_None, *dl_device = Py_None, *copy = Py_None;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "|O$OOO:__dlpack__", names, &stream, &max_version, &dl_device,
					 &copy))
		return NULL;
	BatchObject *b = batch_live(self);
	if (!b)
		return NULL;
	const DatasetObject *owner = b->ref->owner;
	/* a CUDA batch is complete when handed out (the library waited for its stream): any consumer
	 * stream may read it, so there is nothing to order */
	if (stream != Py_None && (owner->dl_type == DL_CPU || !PyLong_Check(stream))) {
		PyErr_SetString(PyExc_ValueError, owner->dl_type == DL_CPU
							  ? "stream must be None for a CPU (kDLCPU) tensor"
							  : "stream must be None or an int");
		return NULL;
	}
	long major = 0, minor = 0;
	if (max_version != Py_None && parse_version(max_version, &major, &minor) < 0)
		return NULL;
	if (dl_device != Py_None) {
		long type = -1, id = -1;
		if (PyTuple_Check(dl_device) && PyTuple_Size(dl_device) == 2) {
			type = PyLong_AsLong(PyTuple_GetItem(dl_device, 0));
			id = PyLong_AsLong(PyTuple_GetItem(dl_device, 1));
			if (PyErr_Occurred())
				return NULL;
		}
		if (type != owner->dl_type || id != owner->dl_id) {
			PyErr_Format(PyExc_BufferError, "the batch is in %s memory: dl_device must be (%d, %d)",
				     owner->dl_type == DL_CPU ? "host" : "GPU", owner->dl_type, owner->dl_id);
			return NULL;
		}
	}
	if (copy != Py_None && PyObject_IsTrue(copy) == 1) {
		PyErr_SetString(PyExc_BufferError, "copy=True is not supported: the export shares the batch buffer");
		return NULL;
	}

	struct dl_export *e = calloc(1, sizeof(*e));
	if (!e)
		return PyErr_NoMemory();
	struct fil_batch *fb = b->ref->b;
	e->shape[0] = (int64_t)fb->data_len;
	e->strides[0] = 1;
	e->ref = b->ref;
	struct dl_tensor t = {
		.data = fb->data,
		.device = {.device_type = owner->dl_type, .device_id = owner->dl_id},
		.ndim = 1,
		.dtype = {.code = DL_UINT, .bits = 8, .lanes = 1},
		.shape = e->shape,
		.strides = e->strides,
		.byte_offset = 0,
	};
	PyObject *cap;
	if (major >= 1) {
		struct dl_managed_tensor_versioned *m = &e->t.versioned;
		m->version.major = DL_VERSION_MAJOR;
		m->version.minor = DL_VERSION_MINOR;
		m->manager_ctx = e;
		m->deleter = versioned_deleter;
		m->flags = 0;
		m->dl_tensor = t;
		cap = PyCapsule_New(m, DL_CAPSULE_VERSIONED_NAME, versioned_capsule_destructor);
	} else {
		struct dl_managed_tensor *m = &e->t.legacy;
		m->dl_tensor = t;
		m->manager_ctx = e;
		m->deleter = legacy_deleter;
		cap = PyCapsule_New(m, DL_CAPSULE_NAME, legacy_capsule_destructor);
	}
	if (!cap) {
		free(e);
		return NULL;
	}
	b->ref->refs++;
	return cap;
}

static PyObject *batch_dlpack_device(PyObject *self, PyObject *unused)
{
	(void)unused;
	BatchObject *b = batch_live(self);
	if (!b)
		return NULL;
	return Py_BuildValue("(ii)", b->ref->owner->dl_type, b->ref->owner->dl_id);
}

/* ---- Batch ---- */

static void batch_dealloc(PyObject *self)
{
	BatchObject *b = (BatchObject *)self;
	PyTypeObject *tp = Py_TYPE(self);
	if (b->ref)
		batch_ref_put(b->ref);
	b->ref = NULL;
	freefunc tp_free = (freefunc)PyType_GetSlot(tp, Py_tp_free);
	tp_free(self);
	Py_DECREF((PyObject *)tp);
}

/* Drops this object's hold on the buffer now (exports keep theirs). */
static PyObject *batch_release(PyObject *self, PyObject *unused)
{
	(void)unused;
	BatchObject *b = (BatchObject *)self;
	if (b->ref)
		batch_ref_put(b->ref);
	b->ref = NULL;
	Py_RETURN_NONE;
}

enum batch_field { F_OFFSETS, F_LENGTHS, F_LABELS, F_FILES, F_PATHS, F_HASHES };

static PyObject *batch_list(PyObject *self, void *closure)
{
	BatchObject *b = batch_live(self);
	if (!b)
		return NULL;
	const struct fil_batch *fb = b->ref->b;
	enum batch_field f = (enum batch_field)(size_t)closure;
	if (f == F_HASHES && !fb->hashes)
		Py_RETURN_NONE;
	PyObject *list = PyList_New(fb->count);
	for (unsigned i = 0; list && i < fb->count; i++) {
		PyObject *v = NULL;
		switch (f) {
		case F_OFFSETS: v = PyLong_FromUnsignedLongLong(fb->offsets[i]); break;
		case F_LENGTHS: v = PyLong_FromUnsignedLongLong(fb->lengths[i]); break;
		case F_LABELS: v = PyLong_FromLong(fb->labels[i]); break;
		case F_FILES: v = PyLong_FromUnsignedLong(fb->files[i]); break;
		case F_PATHS: v = PyUnicode_DecodeFSDefault(fb->paths[i]); break;
		case F_HASHES: v = PyLong_FromUnsignedLongLong(fb->hashes[i]); break;
		}
		if (!v || PyList_SetItem(list, i, v) < 0) {
			Py_CLEAR(list);
			break;
		}
	}
	return list;
}

enum batch_scalar { S_EPOCH, S_INDEX, S_COUNT, S_DATA_LEN, S_DATA_PTR };

static PyObject *batch_scalar(PyObject *self, void *closure)
{
	BatchObject *b = batch_live(self);
	if (!b)
		return NULL;
	const struct fil_batch *fb = b->ref->b;
	switch ((enum batch_scalar)(size_t)closure) {
	case S_EPOCH: return PyLong_FromUnsignedLongLong(fb->epoch);
	case S_INDEX: return PyLong_FromUnsignedLongLong(fb->index);
	case S_COUNT: return PyLong_FromUnsignedLong(fb->count);
	case S_DATA_LEN: return PyLong_FromSize_t(fb->data_len);
	case S_DATA_PTR: return PyLong_FromVoidPtr(fb->data);
	}
	Py_RETURN_NONE;
}

static Py_ssize_t batch_len(PyObject *self)
{
	BatchObject *b = batch_live(self);
	return b ? (Py_ssize_t)b->ref->b->count : -1;
}

#define FIELD(name, getter, which, doc)                          \
	{                                                        \
		name, getter, NULL, doc, (void *)(size_t)(which) \
	}
static PyGetSetDef batch_getset[] = {
	FIELD("epoch", batch_scalar, S_EPOCH, "epoch of the batch"),
	FIELD("index", batch_scalar, S_INDEX, "position of its first file in this rank's share"),
	FIELD("count", batch_scalar, S_COUNT, "files in the batch"),
	FIELD("data_len", batch_scalar, S_DATA_LEN, "bytes of the buffer (to the end of the last file, padded)"),
	FIELD("data_ptr", batch_scalar, S_DATA_PTR, "address of the buffer"),
	FIELD("offsets", batch_list, F_OFFSETS, "offset of each file in the buffer"),
	FIELD("lengths", batch_list, F_LENGTHS, "length of each file"),
	FIELD("labels", batch_list, F_LABELS, "label of each file"),
	FIELD("files", batch_list, F_FILES, "dataset index of each file"),
	FIELD("paths", batch_list, F_PATHS, "path of each file"),
	FIELD("hashes", batch_list, F_HASHES, "fil_hash64 of each file (verify mode), else None"),
	{NULL, NULL, NULL, NULL, NULL},
};

static PyMethodDef batch_methods[] = {
	{"__dlpack__", (PyCFunction)(void (*)(void))batch_dlpack, METH_VARARGS | METH_KEYWORDS,
	 "__dlpack__(stream=None, *, max_version=None, dl_device=None, copy=None): a DLPack capsule of the buffer "
	 "(1-D uint8); \"dltensor_versioned\" when max_version >= (1, 0), else \"dltensor\""},
	{"__dlpack_device__", batch_dlpack_device, METH_NOARGS, "(1, 0): kDLCPU, device 0"},
	{"release", batch_release, METH_NOARGS, "drop this object's hold on the buffer (exports keep theirs)"},
	{NULL, NULL, 0, NULL},
};

static PyType_Slot batch_slots[] = {
	{Py_tp_dealloc, batch_dealloc},
	{Py_tp_methods, batch_methods},
	{Py_tp_getset, batch_getset},
	{Py_sq_length, batch_len},
	{Py_tp_doc, "A batch of files in one buffer, exported by DLPack; made by Dataset.next()."},
	{0, NULL},
};

static PyType_Spec batch_spec = {
	.name = "aisio._fil.Batch",
	.basicsize = sizeof(BatchObject),
	.flags = Py_TPFLAGS_DEFAULT,
	.slots = batch_slots,
};

/* ---- Dataset ---- */

static int parse_uint(const char *name, long long v, unsigned max, unsigned *out)
{
	if (v < 0 || v > (long long)max) {
		PyErr_Format(PyExc_ValueError, "%s must be in 0..%u, got %lld", name, max, v);
		return -1;
	}
	*out = (unsigned)v;
	return 0;
}

static int dataset_init(PyObject *self, PyObject *args, PyObject *kw)
{
	static char *names[] = {"path",        "backend",    "batch_size", "shuffle",           "seed",
				"rank",        "world_size", "threads",    "batches_in_flight", "verify",
				"drop_last",   "device",     "xal_source", "xal_mount",         "nsid",
				"queue_depth", "timeout_ms", "mem",        "gpu_queues",        NULL};
	DatasetObject *o = (DatasetObject *)self;
	PyObject *path = NULL;
	const char *backend = "posix", *device = NULL, *xal_source = NULL, *xal_mount = NULL, *mem = "host";
	long long batch_size = 32, rank = 0, world_size = 1, threads = 0, in_flight = 4, nsid = 0, qd = 0,
		  timeout_ms = 30000, gpu_queues = 0;
	unsigned long long seed = 0;
	int shuffle = 0, verify = 0, drop_last = 0;
	if (o->ds) {
		PyErr_SetString(PyExc_RuntimeError, "the dataset is open already");
		return -1;
	}
	if (!PyArg_ParseTupleAndKeywords(args, kw, "O&|sLpKLLLLppzzzLLLsL:Dataset", names, PyUnicode_FSConverter, &path,
					 &backend, &batch_size, &shuffle, &seed, &rank, &world_size, &threads,
					 &in_flight, &verify, &drop_last, &device, &xal_source, &xal_mount, &nsid, &qd,
					 &timeout_ms, &mem, &gpu_queues))
		return -1;
	struct fil_opts opts = {.seed = seed, .shuffle = shuffle, .verify = verify, .drop_last = drop_last};
	int bad = parse_uint("batch_size", batch_size, 1u << 20, &opts.batch_size) ||
		  parse_uint("rank", rank, 1u << 20, &opts.rank) ||
		  parse_uint("world_size", world_size, 1u << 20, &opts.world_size) ||
		  parse_uint("threads", threads, 256, &opts.threads) ||
		  parse_uint("batches_in_flight", in_flight, 4096, &opts.batches_in_flight) ||
		  parse_uint("nsid", nsid, UINT32_MAX >> 1, &opts.nsid) ||
		  parse_uint("queue_depth", qd, 65536, &opts.queue_depth) ||
		  parse_uint("timeout_ms", timeout_ms, 24u * 3600 * 1000, &o->timeout_ms) ||
		  parse_uint("gpu_queues", gpu_queues, 1024, &opts.gpu_queues);
	if (!bad && (opts.batch_size == 0 || opts.batches_in_flight == 0 || opts.world_size == 0)) {
		PyErr_SetString(PyExc_ValueError, "batch_size, batches_in_flight and world_size must be at least 1");
		bad = 1;
	}
	if (!bad && opts.rank >= opts.world_size) {
		PyErr_Format(PyExc_ValueError, "rank %u is not below world_size %u", opts.rank, opts.world_size);
		bad = 1;
	}
	if (!bad && fil_backend_parse(backend, &opts.backend) < 0) {
		PyErr_Format(
			PyExc_ValueError,
			"backend '%s': one of posix, posix-buffered, posix-direct, posix-uring, aisio-cpu, aisio-gpu, gds",
			backend);
		bad = 1;
	}
	if (!bad && strcmp(mem, "host") && strcmp(mem, "cuda")) {
		PyErr_Format(PyExc_ValueError, "mem '%s': host or cuda", mem);
		bad = 1;
	}
	opts.mem = strcmp(mem, "cuda") ? FIL_MEM_HOST : FIL_MEM_CUDA;
	if (opts.backend == FIL_BACKEND_AISIO_GPU || opts.backend == FIL_BACKEND_GDS)
		opts.mem = FIL_MEM_CUDA;
	o->dl_type = DL_CPU;
	o->dl_id = 0;
#ifdef AISIO_HAVE_GPU
	opts.gpu = fil_gpu_backends();
#endif
	if (bad) {
		Py_DECREF(path);
		return -1;
	}
	if (o->timeout_ms == 0)
		o->timeout_ms = 30000;
	opts.timeout_ms = o->timeout_ms;
	opts.path = PyBytes_AsString(path);
	opts.device = device;
	opts.xal_source = xal_source;
	opts.xal_mount = xal_mount;

	struct fil_dataset *ds = NULL;
	int rc;
	last_error[0] = '\0';
	Py_BEGIN_ALLOW_THREADS rc = fil_dataset_open(&ds, &opts);
	Py_END_ALLOW_THREADS if (rc < 0)
	{
		set_os_error(-rc, last_error);
		Py_DECREF(path);
		return -1;
	}
	Py_DECREF(path);
	o->ds = ds;
#ifdef AISIO_HAVE_GPU
	if (opts.mem == FIL_MEM_CUDA) {
		int dev = 0;
		cudaGetDevice(&dev);
		o->dl_type = DL_CUDA;
		o->dl_id = dev;
	}
#endif
	return 0;
}

static void dataset_dealloc(PyObject *self)
{
	DatasetObject *o = (DatasetObject *)self;
	PyTypeObject *tp = Py_TYPE(self);
	/* every batch_ref holds a reference, so none is left */
	dataset_close_now(o);
	freefunc tp_free = (freefunc)PyType_GetSlot(tp, Py_tp_free);
	tp_free(self);
	Py_DECREF((PyObject *)tp);
}

static DatasetObject *dataset_live(PyObject *self)
{
	DatasetObject *o = (DatasetObject *)self;
	if (!o->ds || o->closing) {
		PyErr_SetString(PyExc_ValueError, "the dataset is closed");
		return NULL;
	}
	return o;
}

/* For what calls fil_*: one thread at a time (fil.h). */
static DatasetObject *dataset_idle(PyObject *self)
{
	DatasetObject *o = dataset_live(self);
	if (o && o->in_next) {
		PyErr_SetString(PyExc_RuntimeError, "the dataset is in use by another thread (next())");
		return NULL;
	}
	return o;
}

/* next(): the next Batch, or None at the end of the epoch. */
static PyObject *dataset_next(PyObject *self, PyObject *unused)
{
	(void)unused;
	DatasetObject *o = dataset_idle(self);
	if (!o)
		return NULL;
	struct fil_batch *fb = NULL;
	int rc = -ETIMEDOUT;
	unsigned waited = 0;
	for (;;) {
		release_pending(o);
		unsigned slice = o->timeout_ms - waited < NEXT_SLICE_MS ? o->timeout_ms - waited : NEXT_SLICE_MS;
		o->in_next = true;
		Py_BEGIN_ALLOW_THREADS rc = fil_next(o->ds, &fb, slice);
		Py_END_ALLOW_THREADS o->in_next = false;
		waited += slice;
		/* releases queued meanwhile may be what fil_next lacked */
		if (rc == -ENOBUFS && o->pending)
			continue;
		if (rc != -ETIMEDOUT || waited >= o->timeout_ms)
			break;
		if (PyErr_CheckSignals() < 0) {
			release_pending(o);
			return NULL;
		}
	}
	release_pending(o);
	if (o->closing) {
		/* close() came from another thread meanwhile */
		if (fb)
			fil_batch_release(o->ds, fb);
		dataset_close_now(o);
		PyErr_SetString(PyExc_ValueError, "the dataset was closed");
		return NULL;
	}
	if (rc == -ENODATA)
		Py_RETURN_NONE;
	if (rc == -ETIMEDOUT) {
		PyErr_Format(PyExc_TimeoutError, "no batch completed within %u ms", o->timeout_ms);
		return NULL;
	}
	if (rc == -ENOBUFS) {
		PyErr_Format(PyExc_BufferError,
			     "all %u buffers are held: delete batches (and arrays made from them) you are done with, "
			     "or open the dataset with more batches_in_flight",
			     o->held);
		return NULL;
	}
	if (rc < 0 && fb) {
		char msg[sizeof(last_error)];
		snprintf(msg, sizeof(msg), "%s", fb->error ? fb->error : strerror(-rc));
		fil_batch_release(o->ds, fb);
		return set_os_error(-rc, msg);
	}
	if (rc < 0)
		return set_os_error(-rc, last_error);

	struct batch_ref *r = calloc(1, sizeof(*r));
	BatchObject *b = r ? PyObject_New(BatchObject, (PyTypeObject *)batch_type) : NULL;
	if (!b) {
		free(r);
		fil_batch_release(o->ds, fb);
		return PyErr_NoMemory();
	}
	Py_INCREF((PyObject *)o);
	r->owner = o;
	r->b = fb;
	r->refs = 1;
	o->held++;
	b->ref = r;
	return (PyObject *)b;
}

static PyObject *dataset_position(PyObject *self, PyObject *unused)
{
	(void)unused;
	DatasetObject *o = dataset_live(self);
	if (!o)
		return NULL;
	struct fil_position p;
	fil_position_get(o->ds, &p);
	return Py_BuildValue("(KK)", (unsigned long long)p.epoch, (unsigned long long)p.index);
}

static PyObject *position_result(DatasetObject *o, int rc)
{
	if (rc == -EBUSY) {
		PyErr_Format(PyExc_BufferError,
			     "%u batches are still held (a Batch or an array made from it): delete them before "
			     "changing the position",
			     o->held);
		return NULL;
	}
	if (rc == -ERANGE) {
		PyErr_SetString(PyExc_ValueError, last_error[0] ? last_error : "index past this rank's share");
		return NULL;
	}
	if (rc < 0)
		return set_os_error(-rc, last_error);
	Py_RETURN_NONE;
}

static PyObject *dataset_set_position(PyObject *self, PyObject *args)
{
	unsigned long long epoch, index;
	if (!PyArg_ParseTuple(args, "KK:set_position", &epoch, &index))
		return NULL;
	DatasetObject *o = dataset_idle(self);
	if (!o)
		return NULL;
	release_pending(o);
	struct fil_position p = {.epoch = epoch, .index = index};
	last_error[0] = '\0';
	int rc;
	Py_BEGIN_ALLOW_THREADS rc = fil_position_set(o->ds, &p);
	Py_END_ALLOW_THREADS return position_result(o, rc);
}

static PyObject *dataset_epoch_next(PyObject *self, PyObject *unused)
{
	(void)unused;
	DatasetObject *o = dataset_idle(self);
	if (!o)
		return NULL;
	last_error[0] = '\0';
	int rc;
	Py_BEGIN_ALLOW_THREADS rc = fil_epoch_next(o->ds);
	Py_END_ALLOW_THREADS return position_result(o, rc);
}

static PyObject *dataset_close(PyObject *self, PyObject *unused)
{
	(void)unused;
	DatasetObject *o = (DatasetObject *)self;
	o->closing = true;
	dataset_close_now(o);
	Py_RETURN_NONE;
}

enum dataset_info { D_FILES, D_CLASSES, D_EPOCH_FILES, D_EPOCH_BATCHES, D_HELD };

static PyObject *dataset_info(PyObject *self, void *closure)
{
	DatasetObject *o = (DatasetObject *)self;
	if ((enum dataset_info)(size_t)closure == D_HELD)
		return PyLong_FromUnsignedLong(o->held);
	if (!dataset_live(self))
		return NULL;
	switch ((enum dataset_info)(size_t)closure) {
	case D_FILES: return PyLong_FromUnsignedLong(fil_dataset_files(o->ds));
	case D_CLASSES: return PyLong_FromUnsignedLong(fil_dataset_classes(o->ds));
	case D_EPOCH_FILES: return PyLong_FromUnsignedLongLong(fil_epoch_files(o->ds));
	case D_EPOCH_BATCHES: return PyLong_FromUnsignedLongLong(fil_epoch_batches(o->ds));
	case D_HELD: break;
	}
	Py_RETURN_NONE;
}

static PyObject *dataset_stats(PyObject *self, PyObject *unused)
{
	(void)unused;
	DatasetObject *o = dataset_live(self);
	if (!o)
		return NULL;
	struct fil_stats st;
	fil_dataset_stats(o->ds, &st);
	return Py_BuildValue("{sKsKsKsK}", "files", (unsigned long long)st.files, "bytes", (unsigned long long)st.bytes,
			     "files_fallback", (unsigned long long)st.files_fallback, "batches_failed",
			     (unsigned long long)st.batches_failed);
}

static PyGetSetDef dataset_getset[] = {
	FIELD("files", dataset_info, D_FILES, "files in the dataset"),
	FIELD("classes", dataset_info, D_CLASSES, "class directories"),
	FIELD("epoch_files", dataset_info, D_EPOCH_FILES, "files of this rank's share in one epoch"),
	FIELD("epoch_batches", dataset_info, D_EPOCH_BATCHES, "batches of this rank's share in one epoch"),
	FIELD("held", dataset_info, D_HELD, "batches not yet given back to the pool"),
	{NULL, NULL, NULL, NULL, NULL},
};

static PyMethodDef dataset_methods[] = {
	{"next", dataset_next, METH_NOARGS, "the next Batch, or None at the end of the epoch"},
	{"position", dataset_position, METH_NOARGS, "(epoch, index) after the last batch handed out"},
	{"set_position", dataset_set_position, METH_VARARGS, "set_position(epoch, index): read from there"},
	{"epoch_next", dataset_epoch_next, METH_NOARGS, "set_position(epoch + 1, 0)"},
	{"stats", dataset_stats, METH_NOARGS, "counts since open (a dict)"},
	{"close", dataset_close, METH_NOARGS, "close now, or when the last batch is given back"},
	{NULL, NULL, 0, NULL},
};

static PyType_Slot dataset_slots[] = {
	{Py_tp_init, dataset_init},
	{Py_tp_new, PyType_GenericNew},
	{Py_tp_dealloc, dataset_dealloc},
	{Py_tp_methods, dataset_methods},
	{Py_tp_getset, dataset_getset},
	{Py_tp_doc, "Dataset(path, backend='posix', batch_size=32, ...): lib/fil's dataset (see aisio.fil)"},
	{0, NULL},
};

static PyType_Spec dataset_spec = {
	.name = "aisio._fil.Dataset",
	.basicsize = sizeof(DatasetObject),
	.flags = Py_TPFLAGS_DEFAULT,
	.slots = dataset_slots,
};

/* ---- module ---- */

static PyObject *capsule_name(PyObject *mod, PyObject *cap)
{
	(void)mod;
	if (!PyCapsule_CheckExact(cap)) {
		PyErr_SetString(PyExc_TypeError, "not a capsule");
		return NULL;
	}
	const char *name = PyCapsule_GetName(cap);
	if (!name) {
		if (PyErr_Occurred())
			return NULL;
		Py_RETURN_NONE;
	}
	return PyUnicode_FromString(name);
}

/* The tensor a capsule holds, as a dict (for tests of the producer side). */
static PyObject *capsule_tensor(PyObject *mod, PyObject *cap)
{
	(void)mod;
	const char *name = PyCapsule_CheckExact(cap) ? PyCapsule_GetName(cap) : NULL;
	if (!name) {
		PyErr_SetString(PyExc_TypeError, "not a DLPack capsule");
		return NULL;
	}
	const struct dl_tensor *t;
	long major = 0, minor = 0;
	unsigned long long flags = 0;
	if (!strcmp(name, DL_CAPSULE_NAME)) {
		t = &((struct dl_managed_tensor *)PyCapsule_GetPointer(cap, name))->dl_tensor;
	} else if (!strcmp(name, DL_CAPSULE_VERSIONED_NAME)) {
		const struct dl_managed_tensor_versioned *m = PyCapsule_GetPointer(cap, name);
		t = &m->dl_tensor;
		major = m->version.major;
		minor = m->version.minor;
		flags = m->flags;
	} else {
		PyErr_Format(PyExc_ValueError, "capsule %s is consumed or not DLPack", name);
		return NULL;
	}
	return Py_BuildValue("{sNsNsisisisisisLsKsK}", "data", PyLong_FromVoidPtr(t->data), "version",
			     Py_BuildValue("(ll)", major, minor), "device_type", t->device.device_type, "device_id",
			     t->device.device_id, "ndim", t->ndim, "code", t->dtype.code, "bits", t->dtype.bits,
			     "shape0", (long long)(t->ndim ? t->shape[0] : 0), "byte_offset",
			     (unsigned long long)t->byte_offset, "flags", flags);
}

static PyObject *hash64(PyObject *mod, PyObject *arg)
{
	(void)mod;
	char *buf;
	Py_ssize_t len;
	if (PyBytes_AsStringAndSize(arg, &buf, &len) < 0)
		return NULL;
	return PyLong_FromUnsignedLongLong(fil_hash64(buf, (size_t)len));
}

static PyMethodDef module_methods[] = {
	{"capsule_name", capsule_name, METH_O, "the name of a capsule (PyCapsule_GetName)"},
	{"capsule_tensor", capsule_tensor, METH_O, "the DLTensor fields of an unconsumed DLPack capsule"},
	{"hash64", hash64, METH_O, "fil_hash64 of bytes"},
	{NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
	PyModuleDef_HEAD_INIT,
	.m_name = "aisio._fil",
	.m_doc = "lib/fil: file datasets in batches, exported by DLPack (use aisio.fil)",
	.m_size = -1,
	.m_methods = module_methods,
};

PyMODINIT_FUNC PyInit__fil(void);
PyMODINIT_FUNC PyInit__fil(void)
{
	PyObject *m = PyModule_Create(&module_def);
	if (!m)
		return NULL;
	dataset_type = PyType_FromSpec(&dataset_spec);
	batch_type = PyType_FromSpec(&batch_spec);
	if (!dataset_type || !batch_type || PyModule_AddObjectRef(m, "Dataset", dataset_type) < 0 ||
	    PyModule_AddObjectRef(m, "Batch", batch_type) < 0) {
		Py_XDECREF(dataset_type);
		Py_XDECREF(batch_type);
		Py_DECREF(m);
		return NULL;
	}
	aisio_log_hook_set(log_hook, NULL);
	return m;
}
