"""Vector code written by hand, as LLVM IR through a Numba intrinsic, for the one loop
that the auto-vectoriser cannot keep in registers: the float32 k-means scores of the
shadow passes (``kmeans._scores32``).

Why: Numba's loops vectorise only innermost loops over arrays, so a score tile (centres
x features x rows) goes through a scratch array in memory between its feature steps, and
its coefficients, hoisted as broadcast vectors, spill to the stack: each multiply-add
then costs about one vector load or store.  Here 16 rows are one vector, the scores of
8 centres stay in registers over all features (each coefficient a broadcast load), and
the least and second least scores are taken in registers too, so the multiply-adds run
back to back: at (1e6, 16, 16) on a Zen 4 core, 2.2x fewer seconds per row than the
tiled loops in cache, 2x streaming from memory (same picks and scores).

The IR is plain: ``<16 x float>`` loads, ``llvm.fmuladd`` and selects, which LLVM
lowers on any target (two 8-lane halves on AVX2, four on NEON; a separate multiply and
add where there is no fused one).  Under NUMBA_DISABLE_JIT a NumPy function of the same
contract stands in.
"""

import numba
import numpy as np
from llvmlite import ir
from numba.core import cgutils, config
from numba.extending import intrinsic

LANES = 16  # rows per call
GROUP = 8  # centres whose scores stay in registers together

_F32 = ir.FloatType()
_I32 = ir.IntType(32)
_I64 = ir.IntType(64)
_VEC = ir.VectorType(_F32, LANES)


def _broadcast(builder, scalar):
    v = builder.insert_element(ir.Constant(_VEC, ir.Undefined), scalar, _I32(0))
    return builder.shuffle_vector(v, ir.Constant(_VEC, ir.Undefined),
                                  ir.Constant(ir.VectorType(_I32, LANES), [0] * LANES))


def _group_loop(builder, c_start, c_stop, step, d, xbase, xs0, mbase, ms0, cbase, state):
    """Emit ``for c0 in range(c_start, c_stop, step)``: the scores of centres c0..c0+step
    over all d features, taken into ``state`` (best, second, pick vectors); returns the
    state after the loop.  ``c_stop`` must leave whole groups."""
    fn = builder.function
    fmuladd = cgutils.get_or_insert_function(
        builder.module, ir.FunctionType(_VEC, [_VEC, _VEC, _VEC]), "llvm.fmuladd.v16f32")
    fp = _F32.as_pointer()
    pre = builder.block
    head = fn.append_basic_block("group.head")
    body = fn.append_basic_block("group.body")
    jhead = fn.append_basic_block("feature.head")
    jbody = fn.append_basic_block("feature.body")
    jend = fn.append_basic_block("feature.end")
    end = fn.append_basic_block("group.end")
    builder.branch(head)

    builder.position_at_end(head)
    c0 = builder.phi(_I64)
    c0.add_incoming(c_start, pre)
    phis = [builder.phi(_VEC) for _ in state]
    for phi, v in zip(phis, state):
        phi.add_incoming(v, pre)
    builder.cbranch(builder.icmp_signed("<", c0, c_stop), body, end)

    builder.position_at_end(body)
    start = [_broadcast(builder, builder.load(builder.gep(cbase, [builder.add(c0, _I64(i))])))
             for i in range(step)]
    rows = [builder.bitcast(builder.gep(mbase, [builder.mul(builder.add(c0, _I64(i)), ms0)]),
                            fp) for i in range(step)]
    builder.branch(jhead)

    builder.position_at_end(jhead)
    j = builder.phi(_I64)
    j.add_incoming(_I64(0), body)
    acc = [builder.phi(_VEC) for _ in range(step)]
    for a, a0 in zip(acc, start):
        a.add_incoming(a0, body)
    builder.cbranch(builder.icmp_signed("<", j, d), jbody, jend)

    builder.position_at_end(jbody)
    xptr = builder.bitcast(builder.gep(xbase, [builder.mul(j, xs0)]), _VEC.as_pointer())
    x = builder.load(xptr, align=4)
    new = [builder.call(fmuladd, [x, _broadcast(builder, builder.load(builder.gep(r, [j]))), a])
           for r, a in zip(rows, acc)]
    j.add_incoming(builder.add(j, _I64(1)), jbody)
    for a, v in zip(acc, new):
        a.add_incoming(v, jbody)
    builder.branch(jhead)

    # kmeans._take on each lane: the least, the second least, the first centre of the least
    builder.position_at_end(jend)
    b, s, p = phis
    cf = builder.sitofp(c0, _F32)
    for i, v in enumerate(acc):
        lt = builder.fcmp_ordered("<", v, b)
        hi = builder.select(builder.fcmp_ordered(">", v, b), v, b)
        s = builder.select(builder.fcmp_ordered("<", hi, s), hi, s)
        p = builder.select(lt, _broadcast(builder, builder.fadd(cf, _F32(float(i)))), p)
        b = builder.select(lt, v, b)
    c0.add_incoming(builder.add(c0, _I64(step)), jend)
    for phi, v in zip(phis, (b, s, p)):
        phi.add_incoming(v, jend)
    builder.branch(head)

    builder.position_at_end(end)
    return phis


def _score_rows_typer(typingctx, XT, lo, M2, cn, best, second, pick, out):
    """``score_rows(XT, lo, M2, cn, best, second, pick, out)``: for the 16 rows
    ``XT[:, lo:lo + 16]`` of a transposed float32 tile (d, n), the least (``best``) and
    second least (``second``) over the k centres of cn[c] + sum_j XT[j, row] M2[c, j]
    (summed in feature order, fused multiply-adds where the machine has them), and the
    first centre attaining the least (``pick``, as a float), written to
    ``best[out:out + 16]`` etc.  All float32, C-contiguous; no bounds are checked: the
    caller keeps lo + 16 <= n and out + 16 <= len(best)."""
    f32 = numba.types.float32

    def ok(a, ndim):
        return (isinstance(a, numba.types.Array) and a.dtype == f32 and a.ndim == ndim
                and a.layout == "C")

    if not (ok(XT, 2) and ok(M2, 2) and ok(cn, 1) and ok(best, 1) and ok(second, 1)
            and ok(pick, 1) and isinstance(lo, numba.types.Integer)
            and isinstance(out, numba.types.Integer)):
        return None

    def codegen(context, builder, signature, args):
        tys = signature.args
        xt = context.make_array(tys[0])(context, builder, args[0])
        m2 = context.make_array(tys[2])(context, builder, args[2])
        cna = context.make_array(tys[3])(context, builder, args[3])
        outs = [context.make_array(tys[i])(context, builder, args[i]) for i in (4, 5, 6)]
        lo_v = context.cast(builder, args[1], tys[1], numba.types.int64)
        out_v = context.cast(builder, args[7], tys[7], numba.types.int64)
        d, _ = cgutils.unpack_tuple(builder, xt.shape, 2)
        xs0, _ = cgutils.unpack_tuple(builder, xt.strides, 2)
        k, _ = cgutils.unpack_tuple(builder, m2.shape, 2)
        ms0, _ = cgutils.unpack_tuple(builder, m2.strides, 2)
        i8p = ir.IntType(8).as_pointer()
        xbase = builder.gep(builder.bitcast(xt.data, i8p), [builder.mul(lo_v, _I64(4))])
        mbase = builder.bitcast(m2.data, i8p)
        cbase = builder.bitcast(cna.data, _F32.as_pointer())
        state = (ir.Constant(_VEC, [float("inf")] * LANES),
                 ir.Constant(_VEC, [float("inf")] * LANES),
                 ir.Constant(_VEC, [0.0] * LANES))
        whole = builder.sub(k, builder.srem(k, _I64(GROUP)))
        state = _group_loop(builder, _I64(0), whole, GROUP, d, xbase, xs0, mbase, ms0,
                            cbase, state)
        state = _group_loop(builder, whole, k, 1, d, xbase, xs0, mbase, ms0, cbase, state)
        for arr, v in zip(outs, state):
            ptr = builder.gep(builder.bitcast(arr.data, _F32.as_pointer()), [out_v])
            builder.store(v, builder.bitcast(ptr, _VEC.as_pointer()), align=4)
        return context.get_dummy_value()

    return numba.types.void(XT, lo, M2, cn, best, second, pick, out), codegen


def _score_rows_numpy(XT, lo, M2, cn, best, second, pick, out):
    """The contract of ``_score_rows_typer`` in NumPy (for NUMBA_DISABLE_JIT)."""
    x = XT[:, lo:lo + LANES]
    b = np.full(LANES, np.inf, dtype=np.float32)
    s = b.copy()
    p = np.zeros(LANES, dtype=np.float32)
    for c in range(M2.shape[0]):
        v = np.full(LANES, cn[c], dtype=np.float32)
        for j in range(x.shape[0]):
            v = v + x[j] * M2[c, j]
        lt = v < b
        hi = np.where(v > b, v, b)
        s = np.where(hi < s, hi, s)
        p = np.where(lt, np.float32(c), p)
        b = np.where(lt, v, b)
    best[out:out + LANES] = b
    second[out:out + LANES] = s
    pick[out:out + LANES] = p


score_rows = _score_rows_numpy if config.DISABLE_JIT else intrinsic(_score_rows_typer)
