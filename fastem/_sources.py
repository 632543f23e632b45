"""Data that are not in memory: a memory-mapped array processed in chunks of rows.

A plain scan through an ``np.memmap`` maps every page of the file into the process: its
resident memory (what a container's limit counts) grows to the file's size, although
the pages could be dropped.  So the rows of a C-contiguous 2-D memmap (``np.memmap``,
``np.load(..., mmap_mode="r")``) go through in chunks of a bounded size, each one's
pages released from the process after use with ``madvise(MADV_DONTNEED)`` (they stay in
the kernel's page cache, shared and reclaimable).  The kernels read the mapped rows
themselves, no copy: a pass over a file in the page cache costs about what a pass over
the array in memory does.  Where ``madvise`` is missing, or for a private (copy-on-write)
map, whose changed pages releasing would lose, the chunks are read instead with ordinary
file reads into one reusable buffer.
"""

import mmap
import os
import tempfile
import threading

import numpy as np

DEFAULT_CHUNK_BYTES = 64 << 20  # 64 MiB of rows per chunk


_NO_LABELS = np.empty(0, dtype=np.int32)


def reduce_chunks(chunks, fn, labels=_NO_LABELS):
    """``InMemoryData.reduce`` over the chunks ``chunks`` (``InMemoryData`` with ``row0``);
    ``labels`` an array or ``FileLabels`` (each chunk's pages released after use)."""
    total = None
    for chunk in chunks:
        if isinstance(labels, FileLabels):
            lo, hi = chunk.row0, chunk.row0 + chunk.n_samples
            try:
                part = fn(chunk, labels.view(lo, hi))
            finally:
                labels.release(lo, hi)
        else:
            part = fn(chunk, chunk.labels_of(labels))
        total = part if total is None else total + part
    return total, labels


#: Initialisation on data read in chunks (files, Dask) sees a sample of this many rows.
INIT_SAMPLE_ROWS = 100_000


def sample_rows(n, w, size, rng):
    """Sorted indices of at most ``size`` distinct rows of positive weight, uniformly at
    random, in O(size) memory when there are no weights (no arange(n), no permutation)."""
    if w.shape[0]:
        rows = np.flatnonzero(w)  # as large as w itself
        if rows.shape[0] <= size:
            return rows
        return rows[np.sort(rng.choice(rows.shape[0], size, replace=False))]
    if n <= 2 * size:
        return np.sort(rng.choice(n, min(n, size), replace=False)) if n > size else np.arange(n)
    # distinct draws in the order drawn are a uniform sample without replacement
    got = np.empty(0, dtype=np.int64)
    while got.shape[0] < size:
        more = rng.integers(0, n, size + size // 4)
        _, first = np.unique(np.concatenate([got, more]), return_index=True)
        got = np.concatenate([got, more])[np.sort(first)]
    return np.sort(got[:size])


def source_of(data):
    """All the data of which ``data`` may be a bounded sample (``data.source``: a file
    read in chunks, dask arrays), else ``data`` itself."""
    return getattr(data, "source", None) or data


class Sums(tuple):
    """A tuple that adds elementwise: the per-chunk results of a pass that add up."""

    def __add__(self, other):
        return Sums(a + b for a, b in zip(self, other))


class InMemoryData:
    """Data held in memory, as the EM driver sees them: ``chunks()`` yields the whole data
    (``chunk_rows`` None) or views of ``chunk_rows`` rows, made once and kept.  A model's
    data class sets ``n_samples`` and ``chunk_rows`` and says in ``_rows(lo, hi)`` how to
    make the data of rows lo..hi; a chunk's ``row0`` is its first row in the whole data."""

    row0 = 0
    _chunks = None
    chunk_rows = None

    def _rows(self, lo, hi):
        raise NotImplementedError

    def chunks(self):
        n, size = self.n_samples, self.chunk_rows
        if size is None or size >= n:
            yield self
            return
        if self._chunks is None:
            self._chunks = []
            for lo in range(0, n, size):
                part = self._rows(lo, min(n, lo + size))
                part.row0 = lo
                self._chunks.append(part)
        yield from self._chunks

    def new_labels(self):
        """Hard EM's labels of every row: -1, none yet."""
        return np.full(self.n_samples, -1, dtype=np.int32)

    def reduce(self, fn, labels=_NO_LABELS):
        """(the sum over chunks, in chunk order, of ``fn(chunk, labels of the chunk)``, the
        labels): every data source has this, the driver's one way to the data."""
        return reduce_chunks(self.chunks(), fn, labels)

    def labels_of(self, labels):
        """This chunk's slice of the whole data's labels (hard EM), or ``labels`` as they
        are when they are empty or this is the whole data."""
        if labels.shape[0] and labels.shape[0] != self.n_samples:
            return labels[self.row0:self.row0 + self.n_samples]
        return labels


def _file_position(X):
    """Byte offset in X's file of its first element, or None when it cannot be told."""
    mm = getattr(X, "_mmap", None)
    if mm is None or getattr(X, "filename", None) is None or X.offset is None:
        return None
    start = X.offset - X.offset % mmap.ALLOCATIONGRANULARITY  # where numpy mapped from
    base = np.frombuffer(mm, dtype=np.uint8)
    return start + (X.ctypes.data - base.ctypes.data)


class MemmapRows:
    """Reads rows of a C-contiguous 2-D memmap ``X`` with file reads (see above)."""

    def __init__(self, X, pos):
        self.path, self.pos = X.filename, pos
        self.shape, self.dtype = X.shape, X.dtype
        self.row_bytes = X.shape[1] * X.dtype.itemsize
        self._lock = threading.Lock()  # one file position per reader
        # Where the platform can drop a mapping's pages (madvise), the chunks are the map's
        # own rows, released after use: no copy.  Not for a private map (mode "c"), whose
        # pages may hold changes that releasing would lose.
        self._X = np.asarray(X)
        self._mm = X._mmap
        self._mm_start = X.offset - X.offset % mmap.ALLOCATIONGRANULARITY
        self.zero_copy = (hasattr(mmap, "MADV_DONTNEED") and hasattr(self._mm, "madvise")
                          and X.mode in ("r", "r+", "readonly", "readwrite"))

    @classmethod
    def of(cls, X):
        """A reader for ``X``, or None when ``X`` is not a memmap it can read exactly."""
        if not isinstance(X, np.memmap) or X.ndim != 2 or not X.flags.c_contiguous:
            return None
        if X.dtype not in (np.float32, np.float64) or not X.dtype.isnative or X.size == 0:
            return None
        try:
            pos = _file_position(X)
            if pos is None or pos < 0 or pos + X.nbytes > os.path.getsize(X.filename):
                return None
            reader = cls(X, pos)
            first = np.empty((1, X.shape[1]), X.dtype)
            reader.read(0, 1, first)
            # the position is right only if the file holds X's first row there (one page
            # of the map is touched for this check)
            if not np.array_equal(first[0], X[0], equal_nan=True):
                return None
        except (OSError, ValueError, TypeError):
            return None
        return reader

    def chunk_rows(self, chunk_bytes):
        """Rows per chunk: as many as fit in ``chunk_bytes`` (at least 1)."""
        return max(1, int(chunk_bytes) // self.row_bytes)

    def _read(self, f, lo, hi, view):
        buf = memoryview(view.reshape(-1).view(np.uint8))
        f.seek(self.pos + lo * self.row_bytes)
        got = 0
        while got < len(buf):
            n = f.readinto(buf[got:])
            if not n:
                raise OSError(f"{self.path}: the file ended before row {hi}")
            got += n
        return view

    def view(self, lo, hi):
        """Rows lo..hi of the map itself (zero_copy only); :meth:`release` them after use."""
        return self._X[lo:hi]

    def release(self, lo, hi):
        """Drop the pages of rows lo..hi from this process (they stay in the page cache)."""
        page = mmap.PAGESIZE
        a = self.pos + lo * self.row_bytes - self._mm_start
        b = self.pos + hi * self.row_bytes - self._mm_start
        a, b = a - a % page, min(len(self._mm), -(-b // page) * page)
        if b > a:
            self._mm.madvise(mmap.MADV_DONTNEED, a, b - a)

    def read(self, lo, hi, out):
        """Rows lo..hi into ``out[:hi - lo]`` (C-contiguous, X's dtype); returns that view."""
        with self._lock, open(self.path, "rb", buffering=0) as f:
            return self._read(f, lo, hi, out[: hi - lo])

    def rows(self, index):
        """The rows ``index`` (a sorted int array) as a new in-memory array; runs of
        consecutive rows are read at once."""
        index = np.asarray(index, dtype=np.int64)
        out = np.empty((index.shape[0], self.shape[1]), self.dtype)
        breaks = np.flatnonzero(np.diff(index) != 1) + 1
        starts = np.concatenate([[0], breaks])
        ends = np.concatenate([breaks, [index.shape[0]]])
        with self._lock, open(self.path, "rb", buffering=0) as f:
            for a, b in zip(starts, ends):
                lo = int(index[a])
                self._read(f, lo, lo + int(b - a), out[a:b])
        return out


class FileLabels:
    """Per-row int32 labels (hard EM, Lloyd passes) for data read in chunks from a file:
    kept in an unnamed temporary file mapped into the process, each chunk's pages
    released after use, so that they do not grow the process's resident memory with n.
    ``view(lo, hi)`` gives rows lo..hi as an array; ``release(lo, hi)`` drops them."""

    def __init__(self, n):
        self.shape = (n,)
        self._file = tempfile.TemporaryFile()
        self._file.truncate(max(4 * n, 1))
        self._mm = mmap.mmap(self._file.fileno(), max(4 * n, 1))
        self._all = np.frombuffer(self._mm, dtype=np.int32, count=n)
        step = 1 << 20
        for lo in range(0, n, step):  # -1: none yet, written a bounded piece at a time
            hi = min(n, lo + step)
            self._all[lo:hi] = -1
            self.release(lo, hi)

    @classmethod
    def available(cls):
        return hasattr(mmap, "MADV_DONTNEED") and hasattr(mmap.mmap, "madvise")

    def view(self, lo, hi):
        return self._all[lo:hi]

    def release(self, lo, hi):
        page = mmap.PAGESIZE
        a, b = 4 * lo - (4 * lo) % page, min(len(self._mm), -(-(4 * hi) // page) * page)
        if b > a:
            self._mm.madvise(mmap.MADV_DONTNEED, a, b - a)


class FileData:
    """Rows of a memory-mapped file as the driver's chunks: read chunk by chunk (mapped
    rows released after use, or file reads into one buffer: ``MemmapRows``), each made
    into a model's chunk by ``make(X, lo, hi, first)`` (``first``: the first time these
    rows are read, for the model's checks).  A chunk is used before the next is read.
    The model sets ``total_weight``."""

    row0 = 0

    def __init__(self, reader, chunk_rows, make):
        self.reader, self.make = reader, make
        self.n_samples, self.n_features = reader.shape
        self.dtype = reader.dtype
        self.chunk_rows = chunk_rows
        self._buffer = None
        self._checked = set()

    def chunks(self):
        reader = self.reader
        if self._buffer is None and not reader.zero_copy:
            self._buffer = np.empty((min(self.chunk_rows, self.n_samples), self.n_features),
                                    self.dtype)
        for lo in range(0, self.n_samples, self.chunk_rows):
            hi = min(self.n_samples, lo + self.chunk_rows)
            X = reader.view(lo, hi) if reader.zero_copy else reader.read(lo, hi, self._buffer)
            try:
                part = self.make(X, lo, hi, lo not in self._checked)
                self._checked.add(lo)
                part.row0 = lo
                yield part
            finally:
                if reader.zero_copy:
                    reader.release(lo, hi)

    def new_labels(self):
        if FileLabels.available():
            return FileLabels(self.n_samples)
        return np.full(self.n_samples, -1, dtype=np.int32)

    def reduce(self, fn, labels=_NO_LABELS):
        return reduce_chunks(self.chunks(), fn, labels)
