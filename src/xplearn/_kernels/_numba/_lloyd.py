"""Fused, chunked Lloyd pass for NumPy arrays on the CPU (numba, parallel).

One call makes one pass over ``X``. Rows are cut into chunks of ``chunk_rows``; for each
chunk, a worker thread

1. copies the chunk, minus ``shift`` (the data mean at fit time, so that distances are
   computed on centered data as scikit-learn does, without copying X), into a small
   contiguous per-thread buffer that stays in cache;
2. runs the register-blocked tiles of :mod:`._simd` over it: squared distances
   ``||c||^2 - 2 x.c`` (the row constant ``||x||^2`` does not change the argmin) for a
   few rows against blocks of centers, with the argmin folded in, so that no distance
   block is ever written to memory;
3. adds each (weighted) row to per-chunk center sums in X's dtype, then adds those to
   float64 partial sums; also counts, summed weights, changed labels and, on request, the
   exact inertia ``sum_i w_i ||x_i - shift - c_label(i)||^2``.

Partial results live in a fixed number of *slots* (contiguous ranges of chunks), chosen
from the data's shape only, and are merged in slot order: results are bit-identical
whatever the number of threads. ``X`` itself is never copied or upcast.

Arguments are annotated IN / OUT / INOUT. This module imports only numpy and numba (and
llvmlite, through the tiles).
"""

from __future__ import annotations

import numba
import numpy as np
from llvmlite import ir
from numba import njit, prange, types
from numba.core import cgutils
from numba.extending import intrinsic

# ``contract`` lets LLVM fuse ``a * b + c`` into one FMA (one rounding instead of two; it
# never reorders operations). ``reassoc`` is added only where a reduction over the
# features must be vectorised (the exact inertia): the features are then summed in
# SIMD-lane order rather than left to right, the same way on every call.
_FM = {"contract"}
_FM_REDUCE = {"contract", "reassoc"}


# -------------------------------------------------------------------------------------
# Register-blocked distance tiles (LLVM vector IR)
#
# Register-blocked distance tiles with a fused argmin, written as LLVM vector IR.
#
# numba's loop vectoriser cannot keep a block of accumulators in registers across a loop
# over the features (it vectorises innermost loops only, and numba leaves LLVM's SLP
# vectoriser off), so a hand-blocked "rows x clusters" tile written in plain numba either
# spills its accumulators to memory or ends every dot product with a horizontal sum. The
# intrinsics below emit the tile directly as LLVM IR on whole vectors (LLVM splits them on
# narrower hardware, and they stay correct everywhere):
#
# * ``MR`` rows of the (shifted, contiguous) chunk times ``NB`` vectors of ``VL`` clusters;
#   per feature, ``NB`` vector loads of packed centers, ``MR`` broadcasts of the row values
#   and ``MR * NB`` multiply-adds into accumulators that live in registers for the whole
#   loop over the features (``llvm.fmuladd``: one FMA where the CPU has it);
# * after each block of clusters, each accumulator (``||c||^2 - 2 x.c`` for ``VL``
#   clusters) is folded into a per-row running minimum and its cluster index, lane-wise;
# * at the end, a butterfly reduction across lanes gives each row's minimum and the
#   *smallest* cluster index attaining it, so ties resolve as ``np.argmin`` does.
#
# The centers are packed once per pass (:func:`pack_centers` in ``_lloyd.py``): block
# ``b`` holds clusters ``b*W .. b*W+W-1`` (``W = VL * NB``) as ``d`` consecutive rows of
# ``W`` values ``-2 c[j, f]``; padding clusters have ``-2c = 0`` and ``||c||^2 = +inf`` so
# that they never win.
#
# Each call processes rows ``r0 .. r0+MR-1`` of a chunk buffer against the cluster range
# ``j0 .. j1`` (multiples of ``W``). The running minima of several calls over consecutive
# cluster ranges go through ``bvbuf`` / ``bibuf`` (``init`` / ``finish`` flags), which lets
# the caller block the clusters for the cache when there are many.
#
# Vector widths. The many-clusters tile uses the widest vectors of the CPU numba compiles
# for (512 bits where it has AVX-512F: twice the multiply-adds per instruction, and 32
# vector registers, room for 8 x 2 accumulators), else 256 bits. There the width changes
# only how many clusters share an instruction: each lane still accumulates one (row,
# cluster) dot product feature by feature, so distances, labels and minima are
# bit-identical whatever the width (tested). The few-clusters tile holds 256 bits' worth
# of clusters (at most 8 float32: wider would be mostly padding); on 512-bit vectors its
# lanes hold two features of each cluster instead (``SMALL_STEP``; the tile's docstring).
# Python-side planning (``tile_plan``) reads the same module constants, so the packed
# layout always matches the compiled tile; numba's on-disk cache is keyed on the CPU's
# features too.
#
# They live in this module, next to their callers, so that numba's on-disk cache (keyed on
# this file) is invalidated whenever they change.


def _target_has_avx512() -> bool:
    """Whether the CPU numba compiles for has AVX-512F (``NUMBA_CPU_FEATURES`` if set)."""
    from numba.core import config
    from numba.core.codegen import get_host_cpu_features

    features = config.CPU_FEATURES
    if features is None:
        features = get_host_cpu_features()
    return "+avx512f" in features.split(",")


#: Bytes per vector of the few-clusters tile and of the row sums (portable AVX2 width).
VECTOR_BYTES = 32
#: Bytes per vector of the many-clusters tile: the compile target's widest.
WIDE_VECTOR_BYTES = 64 if _target_has_avx512() else 32


def lanes(itemsize: int, vector_bytes: int = VECTOR_BYTES) -> int:
    """Number of lanes of one vector of ``vector_bytes`` for elements of ``itemsize`` bytes."""
    return vector_bytes // itemsize


def _transpose(builder, rows):
    """Transpose a square block held as ``len(rows)`` vectors of as many lanes.

    Butterfly of log2(n) stages: at scale h, rows i and i + h (bit h of i clear) swap
    their off-diagonal h x h blocks; ``n log n`` two-input shuffles in all (24 for 8x8,
    which LLVM lowers to unpack / shuffle / lane-permute instructions).
    """
    n = len(rows)
    i32 = ir.IntType(32)
    rows = list(rows)
    h = n // 2
    while h >= 1:
        low = ir.Constant(
            ir.VectorType(i32, n), [lane if not lane & h else n + (lane ^ h) for lane in range(n)]
        )
        high = ir.Constant(
            ir.VectorType(i32, n), [(lane ^ h) if not lane & h else n + lane for lane in range(n)]
        )
        for i in range(n):
            if i & h:
                continue
            a, b = rows[i], rows[i + h]
            rows[i] = builder.shuffle_vector(a, b, low)
            rows[i + h] = builder.shuffle_vector(a, b, high)
        h //= 2
    return rows


def _lane_argmin(builder, value, index, vec_t, ivec_t, lanes_count):
    """Per lane vectors (value, index) -> (min value, smallest index holding it), scalars.

    Butterfly reductions across lanes: after log2(lanes) steps every lane holds the
    minimum; then the smallest index among the lanes equal to it (ties resolve to the
    first cluster, as ``np.argmin``).
    """
    i32 = ir.IntType(32)
    butterflies = []
    step = lanes_count // 2
    while step >= 1:
        butterflies.append(
            ir.Constant(ivec_t, [(lane + step) % lanes_count for lane in range(lanes_count)])
        )
        step //= 2
    undef_v = ir.Constant(vec_t, ir.Undefined)
    undef_i = ir.Constant(ivec_t, ir.Undefined)
    minimum = value
    for perm in butterflies:
        other = builder.shuffle_vector(minimum, undef_v, perm)
        minimum = builder.select(builder.fcmp_ordered("<", other, minimum), other, minimum)
    largest = ir.Constant(ivec_t, [2**31 - 1] * lanes_count)
    index = builder.select(builder.fcmp_ordered("==", value, minimum), index, largest)
    for perm in butterflies:
        other = builder.shuffle_vector(index, undef_i, perm)
        index = builder.select(builder.icmp_signed("<", other, index), other, index)
    zero = ir.Constant(i32, 0)
    return builder.extract_element(minimum, zero), builder.extract_element(index, zero)


def _make_tile_kernel(MR: int, NB: int, vector_bytes: int):
    """Build the general tile intrinsic: ``MR`` rows, ``NB`` vectors of ``vector_bytes``
    bytes of clusters."""

    @intrinsic
    def tile(typingctx, xb, r0, ctp, cn, j0, j1, bvbuf, bibuf, lab, best, init, finish):
        # xb : (rows, d) C-contiguous float32/64 IN: the shifted chunk (rows >= r0 + MR)
        # r0 : first row of the tile
        # ctp : (kpad * d,) IN packed -2 * centers; cn : (kpad,) IN squared norms (+inf pad)
        # j0, j1 : cluster range, multiples of W
        # bvbuf : (rows * W,) INOUT running minima; bibuf : (rows * W,) int32 INOUT indices
        # lab : (rows,) int32 OUT; best : (rows,) OUT (only when finish)
        # init : start from +inf instead of bvbuf; finish : reduce across lanes and write
        #        lab / best instead of saving the running minima to bvbuf / bibuf
        dtype = xb.dtype
        if dtype not in (types.float32, types.float64):  # pragma: no cover - guarded above
            return None
        sig = types.void(xb, r0, ctp, cn, j0, j1, bvbuf, bibuf, lab, best, init, finish)

        def codegen(context, builder, signature, args):
            (xb_v, r0_v, ct_v, cn_v, j0_v, j1_v, bv_v, bi_v, lab_v, best_v, init_v, fin_v) = args
            arg_types = signature.args
            ll_t = context.get_value_type(dtype)
            esize = context.get_abi_sizeof(ll_t)
            VL = lanes(esize, vector_bytes)
            W = VL * NB
            vec_t = ir.VectorType(ll_t, VL)
            i32 = ir.IntType(32)
            ivec_t = ir.VectorType(i32, VL)

            def const(value):
                return context.get_constant(types.intp, value)

            def array(index, value):
                return context.make_array(arg_types[index])(context, builder, value)

            xa, cta, cna = array(0, xb_v), array(2, ct_v), array(3, cn_v)
            bva, bia = array(6, bv_v), array(7, bi_v)
            laba, besta = array(8, lab_v), array(9, best_v)
            d = cgutils.unpack_tuple(builder, xa.shape)[1]
            row_stride = builder.sdiv(cgutils.unpack_tuple(builder, xa.strides)[0], const(esize))
            fmuladd = cgutils.get_or_insert_function(
                builder.module,
                ir.FunctionType(vec_t, [vec_t] * 3),
                f"llvm.fmuladd.v{VL}f{esize * 8}",
            )
            zero32 = ir.Constant(i32, 0)
            undef_v = ir.Constant(vec_t, ir.Undefined)
            undef_i = ir.Constant(ivec_t, ir.Undefined)
            splat_mask = ir.Constant(ivec_t, [0] * VL)

            def vector_at(base, offset, vtype):
                return builder.bitcast(builder.gep(base, [offset]), vtype.as_pointer())

            def splat(value, undef):
                v = builder.insert_element(undef, value, zero32)
                return builder.shuffle_vector(v, undef, splat_mask)

            def state_offset(i, q):
                row = builder.add(r0_v, const(i))
                return builder.add(builder.mul(row, const(W)), const(q * VL))

            # stack slots; LLVM promotes them to registers (SROA / mem2reg)
            acc = [[cgutils.alloca_once(builder, vec_t) for _ in range(NB)] for _ in range(MR)]
            bvs = [[cgutils.alloca_once(builder, vec_t) for _ in range(NB)] for _ in range(MR)]
            bis = [[cgutils.alloca_once(builder, ivec_t) for _ in range(NB)] for _ in range(MR)]

            is_init = builder.icmp_unsigned("!=", init_v, ir.Constant(init_v.type, 0))
            with builder.if_else(is_init) as (then, otherwise):
                with then:
                    inf_vec = ir.Constant(vec_t, [float("inf")] * VL)
                    zero_ivec = ir.Constant(ivec_t, [0] * VL)
                    for i in range(MR):
                        for q in range(NB):
                            builder.store(inf_vec, bvs[i][q])
                            builder.store(zero_ivec, bis[i][q])
                with otherwise:
                    for i in range(MR):
                        for q in range(NB):
                            off = state_offset(i, q)
                            saved_v = builder.load(vector_at(bva.data, off, vec_t), align=esize)
                            saved_i = builder.load(vector_at(bia.data, off, ivec_t), align=4)
                            builder.store(saved_v, bvs[i][q])
                            builder.store(saved_i, bis[i][q])

            rows = [
                builder.gep(xa.data, [builder.mul(builder.add(r0_v, const(i)), row_stride)])
                for i in range(MR)
            ]
            lane_ids = [
                ir.Constant(ivec_t, [q * VL + lane for lane in range(VL)]) for q in range(NB)
            ]
            with cgutils.for_range_slice(builder, j0_v, j1_v, const(W)) as (jb, _):
                norms = [
                    builder.load(
                        vector_at(cna.data, builder.add(jb, const(q * VL)), vec_t), align=esize
                    )
                    for q in range(NB)
                ]
                for i in range(MR):
                    for q in range(NB):
                        builder.store(norms[q], acc[i][q])
                block = builder.mul(jb, d)  # block jb / W starts at jb * d
                with cgutils.for_range(builder, d) as loop:
                    f = loop.index
                    base = builder.add(block, builder.mul(f, const(W)))
                    centers = [
                        builder.load(
                            vector_at(cta.data, builder.add(base, const(q * VL)), vec_t),
                            align=esize,
                        )
                        for q in range(NB)
                    ]
                    for i in range(MR):
                        # a broadcast straight from memory: a load-port operation
                        x = splat(builder.load(builder.gep(rows[i], [f])), undef_v)
                        for q in range(NB):
                            updated = builder.call(
                                fmuladd, [x, centers[q], builder.load(acc[i][q])]
                            )
                            builder.store(updated, acc[i][q])
                first = splat(builder.trunc(jb, i32), undef_i)
                ids = [builder.add(first, lane_ids[q]) for q in range(NB)]
                for i in range(MR):
                    for q in range(NB):
                        value = builder.load(acc[i][q])
                        current = builder.load(bvs[i][q])
                        smaller = builder.fcmp_ordered("<", value, current)  # first wins ties
                        builder.store(builder.select(smaller, value, current), bvs[i][q])
                        builder.store(
                            builder.select(smaller, ids[q], builder.load(bis[i][q])), bis[i][q]
                        )

            is_finish = builder.icmp_unsigned("!=", fin_v, ir.Constant(fin_v.type, 0))
            with builder.if_else(is_finish) as (then, otherwise):
                with then:
                    for i in range(MR):
                        value = builder.load(bvs[i][0])
                        index = builder.load(bis[i][0])
                        for q in range(1, NB):
                            v2 = builder.load(bvs[i][q])
                            i2 = builder.load(bis[i][q])
                            take = builder.or_(
                                builder.fcmp_ordered("<", v2, value),
                                builder.and_(
                                    builder.fcmp_ordered("==", v2, value),
                                    builder.icmp_signed("<", i2, index),
                                ),
                            )
                            value = builder.select(take, v2, value)
                            index = builder.select(take, i2, index)
                        minimum, index = _lane_argmin(builder, value, index, vec_t, ivec_t, VL)
                        row = builder.add(r0_v, const(i))
                        builder.store(index, builder.gep(laba.data, [row]))
                        builder.store(minimum, builder.gep(besta.data, [row]))
                with otherwise:
                    for i in range(MR):
                        for q in range(NB):
                            off = state_offset(i, q)
                            builder.store(
                                builder.load(bvs[i][q]),
                                vector_at(bva.data, off, vec_t),
                                align=esize,
                            )
                            builder.store(
                                builder.load(bis[i][q]),
                                vector_at(bia.data, off, ivec_t),
                                align=4,
                            )
            return context.get_dummy_value()

        return sig, codegen

    return tile


def _prefetch_function(builder):
    """``llvm.prefetch`` declared in the module (its pointer mangling follows LLVM's)."""
    from llvmlite import binding

    opaque = binding.llvm_version_info[0] >= 17  # typed pointers are gone from LLVM 17
    return cgutils.get_or_insert_function(
        builder.module,
        ir.FunctionType(ir.VoidType(), [ir.IntType(8).as_pointer()] + [ir.IntType(32)] * 3),
        "llvm.prefetch.p0" if opaque else "llvm.prefetch.p0i8",
    )


def _make_one_vector_kernel(MR: int, prefetch_rows: int, features_per_step: int):
    """Tile for at most one vector of clusters (``kpad == VL``): no running state.

    Same arithmetic as the general tile restricted to one block of ``VL`` clusters: the
    accumulators hold each row's complete distances after the loop over the features,
    so the argmin is taken straight from them.

    With ``features_per_step`` P = 2 (on 512-bit vectors, twice the 256-bit ``VL``), each
    accumulator lane holds one (cluster, feature parity) pair: a step multiplies the
    row's next two features, broadcast as a pair, with the packed ``-2 c`` of those two
    features for every cluster, so a row of ``d`` features costs ``d / 2`` multiply-adds
    instead of ``d``; the two parities of each cluster are added at the end (distances
    then sum the even and the odd features separately: a different rounding order, not
    a different result beyond rounding). An odd last feature is paired with a zero.

    Few clusters mean little arithmetic per row, so this tile reads X (in place) about
    as fast as memory delivers it, and the hardware prefetcher alone does not keep up with
    the ``MR`` row streams a tile reads feature by feature: each call asks for the cache
    lines of its rows ``prefetch_rows`` ahead (a hint: past the end of X it is harmless).
    Measured on 1M x 32 float32 rows, one thread: 12.8 ns per row without, 5.0 with.
    """
    P = features_per_step

    @intrinsic
    def tile(typingctx, xb, r0, ctp, cn, shift, lab, best, streaming):
        # xb : (rows, d) C-contiguous float32/64 IN, rows >= r0 + MR
        # ctp : (VL * P * ceil(d / P),) IN packed -2 * centers (see pack_centers);
        # cn : (VL,) IN squared norms (+inf padding)
        # shift : (d,) IN, subtracted from every row as it is read, or (0,): none
        # lab : (rows,) int32 OUT; best : (rows,) OUT
        # streaming : xb is X read in place (from memory): prefetch the rows ahead
        dtype = xb.dtype
        if dtype not in (types.float32, types.float64):  # pragma: no cover - guarded above
            return None
        sig = types.void(xb, r0, ctp, cn, shift, lab, best, streaming)

        def codegen(context, builder, signature, args):
            xb_v, r0_v, ct_v, cn_v, shift_v, lab_v, best_v, streaming_v = args
            arg_types = signature.args
            ll_t = context.get_value_type(dtype)
            esize = context.get_abi_sizeof(ll_t)
            VL = lanes(esize)
            vec_t = ir.VectorType(ll_t, VL)
            acc_t = ir.VectorType(ll_t, VL * P)  # lane j * P + q: cluster j, feature q
            i32 = ir.IntType(32)
            ivec_t = ir.VectorType(i32, VL)

            def const(value):
                return context.get_constant(types.intp, value)

            def array(index, value):
                return context.make_array(arg_types[index])(context, builder, value)

            def lanes_mask(values):
                return ir.Constant(ir.VectorType(i32, len(values)), list(values))

            xa, cta, cna = array(0, xb_v), array(2, ct_v), array(3, cn_v)
            sha, laba, besta = array(4, shift_v), array(5, lab_v), array(6, best_v)
            d = cgutils.unpack_tuple(builder, xa.shape)[1]
            row_stride = builder.sdiv(cgutils.unpack_tuple(builder, xa.strides)[0], const(esize))
            fmuladd = cgutils.get_or_insert_function(
                builder.module,
                ir.FunctionType(acc_t, [acc_t] * 3),
                f"llvm.fmuladd.v{VL * P}f{esize * 8}",
            )
            step_t = ir.VectorType(ll_t, P)
            # the P features of a step, repeated for every cluster (a broadcast load)
            repeat_mask = lanes_mask([q for _ in range(VL) for q in range(P)])

            i8p = ir.IntType(8).as_pointer()
            row_bytes = builder.mul(row_stride, const(esize))
            ahead = builder.gep(
                builder.bitcast(xa.data, i8p),
                [builder.mul(builder.add(r0_v, const(prefetch_rows)), row_bytes)],
            )
            prefetch = _prefetch_function(builder)
            read, keep, data = (ir.Constant(i32, value) for value in (0, 3, 1))
            tile_bytes = builder.mul(const(MR), row_bytes)
            is_streaming = builder.icmp_unsigned(
                "!=", streaming_v, ir.Constant(streaming_v.type, 0)
            )
            with (
                builder.if_then(is_streaming),
                cgutils.for_range_slice(builder, const(0), tile_bytes, const(64)) as (at, _),
            ):
                builder.call(prefetch, [builder.gep(ahead, [at]), read, keep, data])
            norms = builder.load(builder.bitcast(cna.data, vec_t.as_pointer()), align=esize)
            # each cluster's norm in its first parity lane, zeros in the others
            zeros = ir.Constant(vec_t, [0.0] * VL)
            norms = builder.shuffle_vector(
                norms, zeros, lanes_mask([j if q == 0 else VL for j in range(VL) for q in range(P)])
            )
            acc = [cgutils.alloca_once(builder, acc_t) for _ in range(MR)]
            for i in range(MR):
                builder.store(norms, acc[i])
            rows = [
                builder.gep(xa.data, [builder.mul(builder.add(r0_v, const(i)), row_stride)])
                for i in range(MR)
            ]

            def step(index, values_at, subtract):
                # one step: centers of features index*P.., then for each row its values
                # there (values_at(base): the step's P values from base, a row or the
                # shift), minus the shift's if ``subtract``, broadcast to every cluster
                offset = builder.mul(index, const(VL * P))
                center = builder.load(
                    builder.bitcast(builder.gep(cta.data, [offset]), acc_t.as_pointer()),
                    align=esize,
                )
                if subtract:
                    shifts = values_at(sha.data)
                    shifts = builder.shuffle_vector(shifts, shifts, repeat_mask)
                for i in range(MR):
                    x = values_at(rows[i])
                    x = builder.shuffle_vector(x, x, repeat_mask)
                    if subtract:
                        x = builder.fsub(x, shifts)
                    builder.store(builder.call(fmuladd, [x, center, builder.load(acc[i])]), acc[i])

            def all_steps(subtract):
                full_steps = builder.sdiv(d, const(P))
                with cgutils.for_range(builder, full_steps) as loop:
                    first_feature = builder.mul(loop.index, const(P))
                    step(
                        loop.index,
                        lambda base: builder.load(
                            builder.bitcast(
                                builder.gep(base, [first_feature]), step_t.as_pointer()
                            ),
                            align=esize,
                        ),
                        subtract,
                    )
                if P > 1:
                    # an odd last feature, paired with zeros (never read past the row)
                    last = builder.sub(d, const(1))
                    has_tail = builder.icmp_signed("!=", builder.srem(d, const(P)), const(0))
                    empty = ir.Constant(step_t, [0.0] * P)
                    with builder.if_then(has_tail):
                        step(
                            full_steps,
                            lambda base: builder.insert_element(
                                empty, builder.load(builder.gep(base, [last])), ir.Constant(i32, 0)
                            ),
                            subtract,
                        )

            # two copies of the loop: a subtraction of zeros would cost the in-place reads
            # of data near the origin ~15% of a pass
            has_shift = builder.icmp_signed(
                ">", cgutils.unpack_tuple(builder, sha.shape)[0], const(0)
            )
            with builder.if_else(has_shift) as (then, otherwise):
                with then:
                    all_steps(True)
                with otherwise:
                    all_steps(False)
            distances = []
            for i in range(MR):
                value = builder.load(acc[i])
                total = builder.shuffle_vector(value, value, lanes_mask(range(0, VL * P, P)))
                for q in range(1, P):
                    part = builder.shuffle_vector(value, value, lanes_mask(range(q, VL * P, P)))
                    total = builder.fadd(total, part)
                distances.append(total)
            # argmin of VL rows at once: transpose their VL x VL block of distances so that
            # lanes are rows, then compare the VL cluster vectors lane-wise
            for first in range(0, MR, VL):
                columns = _transpose(builder, distances[first : first + VL])
                minimum = columns[0]
                index = ir.Constant(ivec_t, [0] * VL)
                for j in range(1, VL):
                    smaller = builder.fcmp_ordered("<", columns[j], minimum)  # first wins ties
                    minimum = builder.select(smaller, columns[j], minimum)
                    index = builder.select(smaller, ir.Constant(ivec_t, [j] * VL), index)
                row = builder.add(r0_v, const(first))
                builder.store(
                    index,
                    builder.bitcast(builder.gep(laba.data, [row]), ivec_t.as_pointer()),
                    align=4,
                )
                builder.store(
                    minimum,
                    builder.bitcast(builder.gep(besta.data, [row]), vec_t.as_pointer()),
                    align=esize,
                )
            return context.get_dummy_value()

        return sig, codegen

    return tile


#: Rows and cluster vectors of the two tiles: few clusters (at most one vector of them,
#: no running minimum; MR a multiple of the lanes, for the transposed argmin), and the
#: general case. Both keep MR * NB accumulators plus the loads in the vector registers
#: without spilling (a spill in the feature loop halves the speed): 16 registers with
#: AVX2 (4 x 2 accumulators), 32 with AVX-512 (8 x 2: in-process trials on (100k, 128,
#: 1000) float32 gave 8 x 2 443 GFLOP/s, 4 x 4 417, 4 x 2 390, 6 x 4 394, 12 x 2 190).
SMALL_MR, SMALL_NB = 8, 1
LARGE_MR, LARGE_NB = (8, 2) if WIDE_VECTOR_BYTES == 64 else (4, 2)
#: Rows ahead whose cache lines the few-clusters tile prefetches (64 to 128 measured best).
PREFETCH_ROWS = 128

#: Features per step of the few-clusters tile: pairs on 512-bit vectors (see the tile).
SMALL_STEP = 2 if WIDE_VECTOR_BYTES == 64 else 1

tile_small = _make_one_vector_kernel(SMALL_MR, PREFETCH_ROWS, SMALL_STEP)
tile_large = _make_tile_kernel(LARGE_MR, LARGE_NB, WIDE_VECTOR_BYTES)


# -------------------------------------------------------------------------------------
# Adding rows to per-cluster sums (LLVM vector IR)
#
# The update half of a pass adds every row to its cluster's sum. Written as a numba loop
# over the features, each row pays a loop set-up and a run-time aliasing check between
# the row and its target (numba cannot tell they never overlap): about 20 cycles for a
# 32-feature float32 row, as much as the distance tile of 8 clusters. The intrinsic below
# adds a row as whole vectors (a scalar tail when the features are not a multiple of
# the lanes): same operations in the same order, so the same sums.


@intrinsic
def add_rows(typingctx, xb, lab, m, sample_weight, start, sums, shift):
    # xb : (>= m, d) float32/64 IN, rows with unit stride along the features
    # shift : (d,) xb.dtype IN, subtracted from every row as it is read, or (0,): none
    # lab : (>= m,) int32 IN, the cluster of each row
    # sample_weight : (n,) xb.dtype IN, weights of rows start.., or (0,) for unit weights
    # sums : (k, d) xb.dtype or float64, unit stride along the features (rows may be
    #        padded), INOUT: sums[lab[r]] += w_r (xb[r] - shift) (in xb's dtype, then
    #        converted, as ``sums += float64(w * (x - shift))``)
    if xb.dtype not in (types.float32, types.float64) or sums.dtype not in (
        xb.dtype,
        types.float64,
    ):  # pragma: no cover - guarded by the callers
        return None
    sig = types.void(xb, lab, m, sample_weight, start, sums, shift)

    def codegen(context, builder, signature, args):
        xb_v, lab_v, m_v, sw_v, start_v, sums_v, shift_v = args
        arg_types = signature.args
        x_t = context.get_value_type(xb.dtype)
        s_t = context.get_value_type(sums.dtype)
        x_size = context.get_abi_sizeof(x_t)
        s_size = context.get_abi_sizeof(s_t)
        VL = lanes(x_size)
        xvec_t = ir.VectorType(x_t, VL)
        svec_t = ir.VectorType(s_t, VL)  # 512 bits for float32 rows into float64 sums
        same = x_t == s_t

        def const(value):
            return context.get_constant(types.intp, value)

        def array(index, value):
            return context.make_array(arg_types[index])(context, builder, value)

        xa, laba, swa, sa = array(0, xb_v), array(1, lab_v), array(3, sw_v), array(5, sums_v)
        sha = array(6, shift_v)
        d = cgutils.unpack_tuple(builder, xa.shape)[1]
        x_stride = builder.sdiv(cgutils.unpack_tuple(builder, xa.strides)[0], const(x_size))
        s_stride = builder.sdiv(cgutils.unpack_tuple(builder, sa.strides)[0], const(s_size))
        d_vec = builder.mul(builder.sdiv(d, const(VL)), const(VL))
        weighted = builder.icmp_signed(">", cgutils.unpack_tuple(builder, swa.shape)[0], const(0))
        fmuladd = cgutils.get_or_insert_function(
            builder.module,
            ir.FunctionType(xvec_t, [xvec_t] * 3),
            f"llvm.fmuladd.v{VL}f{x_size * 8}",
        )
        fmuladd_scalar = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(x_t, [x_t] * 3), f"llvm.fmuladd.f{x_size * 8}"
        )
        i32 = ir.IntType(32)
        splat_mask = ir.Constant(ir.VectorType(i32, VL), [0] * VL)
        undef_x = ir.Constant(xvec_t, ir.Undefined)

        def add(target, value, weight, vector):
            # target (sums' type) + weight * value (xb's type); weight None: unit weights
            if weight is None:
                value = value if same else builder.fpext(value, target.type)
                return builder.fadd(target, value)
            if same:
                function = fmuladd if vector else fmuladd_scalar
                return builder.call(function, [weight, value, target])
            return builder.fadd(target, builder.fpext(builder.fmul(weight, value), target.type))

        def rows_loop(is_weighted, subtract):
            with cgutils.for_range(builder, m_v) as loop:
                r = loop.index
                label = builder.sext(builder.load(builder.gep(laba.data, [r])), d.type)
                target_row = builder.gep(sa.data, [builder.mul(label, s_stride)])
                source_row = builder.gep(xa.data, [builder.mul(r, x_stride)])
                weight = weight_vec = None
                if is_weighted:
                    weight = builder.load(builder.gep(swa.data, [builder.add(start_v, r)]))
                    weight_vec = builder.insert_element(undef_x, weight, ir.Constant(i32, 0))
                    weight_vec = builder.shuffle_vector(weight_vec, undef_x, splat_mask)
                with cgutils.for_range_slice(builder, const(0), d_vec, const(VL)) as (f, _):
                    source = builder.bitcast(builder.gep(source_row, [f]), xvec_t.as_pointer())
                    target = builder.bitcast(builder.gep(target_row, [f]), svec_t.as_pointer())
                    value = builder.load(source, align=x_size)
                    if subtract:
                        shifts = builder.bitcast(builder.gep(sha.data, [f]), xvec_t.as_pointer())
                        value = builder.fsub(value, builder.load(shifts, align=x_size))
                    total = add(builder.load(target, align=s_size), value, weight_vec, True)
                    builder.store(total, target, align=s_size)
                with cgutils.for_range_slice(builder, d_vec, d, const(1)) as (f, _):
                    source = builder.gep(source_row, [f])
                    target = builder.gep(target_row, [f])
                    value = builder.load(source)
                    if subtract:
                        value = builder.fsub(value, builder.load(builder.gep(sha.data, [f])))
                    total = add(builder.load(target), value, weight, False)
                    builder.store(total, target)

        has_shift = builder.icmp_signed(">", cgutils.unpack_tuple(builder, sha.shape)[0], const(0))
        for subtract, flag in ((True, has_shift), (False, builder.not_(has_shift))):
            with builder.if_then(flag), builder.if_else(weighted) as (then, otherwise):
                with then:
                    rows_loop(True, subtract)
                with otherwise:
                    rows_loop(False, subtract)
        return context.get_dummy_value()

    return sig, codegen


# -------------------------------------------------------------------------------------
# The pass


@njit(cache=True, nogil=True)
def _aligned_empty(n, dtype):  # pragma: no cover - compiled
    """An uninitialised 1-D array of n elements whose data starts on a 64-byte boundary.

    NumPy aligns its buffers to 16 bytes only: a 256-bit vector access at a 16-byte offset
    can straddle two cache lines, which for a store costs several times an aligned one
    (measured: adding rows to per-cluster sums 2.5 to 4 times slower). Every buffer the
    tiles access by whole vectors comes from here.
    """
    buffer = np.empty(n + 64, dtype)  # 64 spare elements cover any offset
    offset = ((-buffer.ctypes.data) % 64) // buffer.itemsize
    return buffer[offset : offset + n]


@njit(cache=True, nogil=True)
def _row_length(d, itemsize):  # pragma: no cover - compiled
    """d rounded up to whole 64-byte lines, so that padded rows stay aligned."""
    per_line = 64 // itemsize
    return (d + per_line - 1) // per_line * per_line


@njit(cache=True, nogil=True, fastmath=_FM)
def pack_centers(centers, block, step, packed, norms):  # pragma: no cover - compiled
    """Pack centers for the tiles.

    centers : (k, d) IN
    block : int, clusters per packed block (the tile's ``W``)
    step : int, features per step of the tile (1, or 2 for the paired few-clusters tile)
    packed : (kpad * dpad,) OUT, ``dpad`` = d rounded up to a multiple of ``step``: block
        b, step s, lane l, parity q holds ``-2 * centers[b*W + l, s*step + q]`` at
        ``b*W*dpad + s*W*step + l*step + q`` (0 for padding clusters and features)
    norms : (kpad,) OUT: squared norms, +inf for padding clusters
    """
    k, d = centers.shape
    kpad = norms.shape[0]
    dpad = (d + step - 1) // step * step
    for j in range(kpad):
        b = j // block
        lane = j - b * block
        base = b * block * dpad + lane * step
        acc = 0.0
        for f in range(dpad):
            at = base + (f // step) * block * step + f % step
            if j < k and f < d:
                c = centers[j, f]
                packed[at] = -2.0 * c
                acc += c * c
            else:
                packed[at] = 0.0
        norms[j] = acc if j < k else np.inf


@njit(cache=True, nogil=True)
def centers_frame(centers):  # pragma: no cover - compiled
    """Whether to measure around the centers' mean, that mean, and the moved centers.

    centers : (k, d) float32/64 IN.
    Returns (far, origin (d,), centers - origin (k, d)), in the centers' dtype: ``far``
    when the mean is farther from the origin (squared) than the centers' mean squared
    distance to it.
    """
    k, d = centers.shape
    total = np.zeros(d, np.float64)
    for j in range(k):
        for f in range(d):
            total[f] += centers[j, f]
    origin = np.empty(d, centers.dtype)
    offset = 0.0
    for f in range(d):
        origin[f] = total[f] / k
        offset += np.float64(origin[f]) * origin[f]
    moved = np.empty_like(centers)
    spread = 0.0
    for j in range(k):
        for f in range(d):
            value = centers[j, f] - origin[f]
            moved[j, f] = value
            spread += np.float64(value) * value
    return offset > spread / k, origin, moved


@njit(cache=True, nogil=True, fastmath=_FM)
def _shifted_chunk(X, start, stop, shift, xb, rows_padded):  # pragma: no cover - compiled
    """xb[:m] = X[start:stop] - shift; rows m:rows_padded = 0 (tile padding). OUT xb."""
    d = X.shape[1]
    m = stop - start
    for r in range(m):
        source = X[start + r]
        target = xb[r]
        for f in range(d):
            target[f] = source[f] - shift[f]
    for r in range(m, rows_padded):
        target = xb[r]
        for f in range(d):
            target[f] = 0.0


@njit(cache=True, nogil=True, fastmath=_FM)
def _assign_chunk(
    xb,
    rows,
    packed,
    norms,
    small,
    cluster_block,
    bvbuf,
    bibuf,
    lab,
    best,
    row_shift,
    streaming,
):  # pragma: no cover - compiled
    """Labels (and minimal ``||c||^2 - 2 x.c``) of the first ``rows`` rows of xb.

    ``rows`` is a multiple of the tile's row count. OUT lab, best. ``row_shift``: (d,),
    subtracted from the rows as the few-clusters tile reads them, or (0,) for none (the
    many-clusters tile always gets shifted rows). ``streaming``: xb is a part of X read
    in place (the few-clusters tile then prefetches the rows ahead).
    """
    kpad = norms.shape[0]
    if small:
        for r0 in range(0, rows, SMALL_MR):
            tile_small(xb, r0, packed, norms, row_shift, lab, best, streaming)
    elif kpad <= cluster_block:
        for r0 in range(0, rows, LARGE_MR):
            tile_large(xb, r0, packed, norms, 0, kpad, bvbuf, bibuf, lab, best, True, True)
    else:
        # blocks of centers that stay in cache while every row of the chunk meets them
        for j0 in range(0, kpad, cluster_block):
            j1 = min(kpad, j0 + cluster_block)
            first = j0 == 0
            last = j1 == kpad
            for r0 in range(0, rows, LARGE_MR):
                tile_large(xb, r0, packed, norms, j0, j1, bvbuf, bibuf, lab, best, first, last)


@njit(cache=True, nogil=True, fastmath=_FM)
def _fold_chunk(
    xb,
    start,
    m,
    sample_weight,
    labels,
    lab,
    chunk_sums,
    chunk_counts,
    sums,
    weights,
    counts,
    update_centers,
    direct,
    row_shift,
):  # pragma: no cover - compiled
    """Write the chunk's labels; add its rows to one slot's partial results.

    With ``direct``, rows are added straight to the slot's float64 ``sums`` (float64 data,
    or many clusters, where a chunk touches most clusters once). Otherwise they are summed
    in X's dtype into ``chunk_sums`` (a few hundred float32 rows at most, few clusters),
    which are then added to ``sums`` and reset: cheaper than converting every value.

    xb : (>= m, d) IN, the chunk's rows (rows start:start+m of X), shifted by a copy or,
        read in place, minus ``row_shift`` (d,) as they are added ((0,): none)
    labels : (n,) int32 INOUT; lab : (>= m,) int32 IN
    chunk_sums : (k, d) X.dtype scratch, zero on entry and exit
    chunk_counts : (k,) int64 scratch, zero on entry and exit
    sums : (k, d) float64 INOUT; weights : (k,) float64 INOUT; counts : (k,) int64 INOUT

    Returns the number of labels that changed.
    """
    changed = 0
    for r in range(m):
        label = lab[r]
        changed += labels[start + r] != label
        labels[start + r] = label
    if not update_centers:
        return changed
    weighted = sample_weight.shape[0] > 0
    if direct:
        for r in range(m):
            label = lab[r]
            counts[label] += 1
            weights[label] += sample_weight[start + r] if weighted else 1.0
        add_rows(xb, lab, m, sample_weight, start, sums, row_shift)
        return changed
    for r in range(m):
        label = lab[r]
        chunk_counts[label] += 1
        if weighted:
            weights[label] += sample_weight[start + r]
    add_rows(xb, lab, m, sample_weight, start, chunk_sums, row_shift)
    k, d = chunk_sums.shape
    for j in range(k):
        c = chunk_counts[j]
        if c != 0:
            chunk_counts[j] = 0
            counts[j] += c
            if not weighted:
                weights[j] += c
            source = chunk_sums[j]
            target64 = sums[j]
            for f in range(d):
                target64[f] += source[f]
                source[f] = 0.0
    return changed


@njit(cache=True, nogil=True, fastmath=_FM_REDUCE)
def _chunk_inertia(xb, start, m, sample_weight, centers, lab, row_shift):  # pragma: no cover
    """Exact ``sum_r w_r ||xb[r] - row_shift - centers[lab[r]]||^2`` over the chunk's m
    rows (``xb[r] - row_shift`` rounded to X's dtype first, as a shifted copy is; a (0,)
    ``row_shift``: none)."""
    d = xb.shape[1]
    weighted = sample_weight.shape[0] > 0
    shifted = row_shift.shape[0] > 0
    total = 0.0
    for r in range(m):
        row = xb[r]
        center = centers[lab[r]]
        acc = 0.0
        for f in range(d):
            value = row[f] - row_shift[f] if shifted else row[f]
            diff = np.float64(value - center[f])
            acc += diff * diff
        if weighted:
            total += sample_weight[start + r] * acc
        else:
            total += acc
    return total


@njit(cache=True, nogil=True, fastmath=_FM)
def _process_slot(
    slot,
    n_slots,
    X,
    sample_weight,
    centers,
    shift,
    labels,
    packed,
    norms,
    s_sums,
    s_weights,
    s_counts,
    xbuf,
    lab,
    best,
    bvbuf,
    bibuf,
    chunk_sums,
    chunk_counts,
    update_centers,
    compute_inertia,
    small,
    chunk_rows,
    cluster_block,
    direct,
    shifted,
):  # pragma: no cover - compiled
    """All chunks of one slot (a contiguous range of chunks), into the slot's partials.

    s_sums, s_weights, s_counts : the slot's partial results, OUT (zeroed here)
    xbuf, lab, best, bvbuf, bibuf, chunk_sums, chunk_counts : the thread's scratch
    shifted : subtract ``shift``: the few-clusters tile and the row sums subtract it as
        they read X in place; the many-clusters tile reads a shifted copy of each chunk
        (it reads every row many times, the copy costs it little). When False every tile
        reads X in place.

    Returns (labels changed, inertia) of the slot.
    """
    n = X.shape[0]
    s_sums[:] = 0.0
    s_weights[:] = 0.0
    s_counts[:] = 0
    tile_rows = SMALL_MR if small else LARGE_MR
    n_chunks = (n + chunk_rows - 1) // chunk_rows
    changed = 0
    inertia = 0.0
    no_shift = shift[:0]
    for chunk in range(slot * n_chunks // n_slots, (slot + 1) * n_chunks // n_slots):
        start = chunk * chunk_rows
        m = min(n, start + chunk_rows) - start
        rows = (m + tile_rows - 1) // tile_rows * tile_rows
        in_place = rows == m and (small or not shifted)
        if in_place:
            xb = X[start : start + m]
            row_shift = shift if shifted else no_shift
        else:
            # centered copy (or tile padding of the last chunk) in the thread's buffer
            _shifted_chunk(X, start, start + m, shift, xbuf, rows)
            xb = xbuf
            row_shift = no_shift
        _assign_chunk(
            xb,
            rows,
            packed,
            norms,
            small,
            cluster_block,
            bvbuf,
            bibuf,
            lab,
            best,
            row_shift,
            in_place,
        )
        changed += _fold_chunk(
            xb,
            start,
            m,
            sample_weight,
            labels,
            lab,
            chunk_sums,
            chunk_counts,
            s_sums,
            s_weights,
            s_counts,
            update_centers,
            direct,
            row_shift,
        )
        if compute_inertia:
            inertia += _chunk_inertia(xb, start, m, sample_weight, centers, lab, row_shift)
    return changed, inertia


@njit(cache=True, nogil=True)
def _run_slot(slot, tid, arguments):  # pragma: no cover - compiled
    """Slot ``slot`` of a pass with thread ``tid``'s scratch; ``arguments`` is the tuple
    :func:`lloyd_pass` builds (the data, the per-slot outputs, per-thread scratch with
    one row per thread, and the plan's flags)."""
    (
        X,
        sample_weight,
        centers,
        shift,
        labels,
        packed,
        norms,
        slot_sums,
        slot_weights,
        slot_counts,
        slot_changed,
        slot_inertia,
        xbufs,
        labs,
        bests,
        bvbufs,
        bibufs,
        chunk_sums,
        chunk_counts,
        update_centers,
        compute_inertia,
        small,
        chunk_rows,
        cluster_block,
        direct,
        shifted,
    ) = arguments
    changed, inertia = _process_slot(
        slot,
        slot_sums.shape[0],
        X,
        sample_weight,
        centers,
        shift,
        labels,
        packed,
        norms,
        slot_sums[slot],
        slot_weights[slot],
        slot_counts[slot],
        xbufs[tid],
        labs[tid],
        bests[tid],
        bvbufs[tid],
        bibufs[tid],
        chunk_sums[tid],
        chunk_counts[tid],
        update_centers,
        compute_inertia,
        small,
        chunk_rows,
        cluster_block,
        direct,
        shifted,
    )
    slot_changed[slot] = changed
    slot_inertia[slot] = inertia


@njit(cache=True, nogil=True, parallel=True)
def _run_slots(n_slots, arguments):  # pragma: no cover - compiled
    """The parallel region: one slot per iteration, per-thread scratch by thread id.

    Kept minimal (numba's parallel compilation is slow on large bodies).
    """
    for slot in prange(n_slots):
        # np.int64: parfor lowering retypes the index as uint64; one signature, one compile
        _run_slot(np.int64(slot), numba.get_thread_id(), arguments)


@njit(cache=True, nogil=True)
def _run_slots_serial(n_slots, arguments):  # pragma: no cover - compiled
    """The same slots on the calling thread, in order, with the first thread's scratch:
    identical results (slots do not depend on threads) without the thread pool's launch
    and bookkeeping, for passes too small to wake it."""
    for slot in range(n_slots):
        _run_slot(np.int64(slot), 0, arguments)


@njit(cache=True, nogil=True)
def _merge_cluster(
    slot_sums, slot_weights, slot_counts, sums, weights, counts, j
):  # pragma: no cover
    """Cluster j's totals: its partials added in slot order (OUT sums[j], weights[j], ...)."""
    n_slots, _, d = slot_sums.shape
    w = 0.0
    c = 0
    for slot in range(n_slots):
        w += slot_weights[slot, j]
        c += slot_counts[slot, j]
    weights[j] = w
    counts[j] = c
    for f in range(d):
        total = 0.0
        for slot in range(n_slots):
            total += slot_sums[slot, j, f]
        sums[j, f] = total


@njit(cache=True, nogil=True, fastmath=_FM)
def lloyd_pass(
    X,
    sample_weight,
    centers,
    shift,
    labels,
    sums,
    weights,
    counts,
    update_centers,
    compute_inertia,
    small,
    block,
    chunk_rows,
    cluster_block,
    n_slots,
    direct,
    shifted,
    n_threads,
    around_centers,
):  # pragma: no cover - compiled
    """One fused Lloyd pass (assignment, and the sums of the update) over X.

    Parameters
    ----------
    X : (n, d) float32 or float64, C-contiguous. IN
    sample_weight : (n,) X.dtype, or (0,) for unit weights. IN
    centers : (k, d) X.dtype, in the shifted frame. IN
    shift : (d,) X.dtype, subtracted from every row of X. IN
    labels : (n,) int32: previous labels in, new labels out. INOUT
    sums : (k, d) float64: weighted sums of the shifted rows of each cluster. OUT
    weights : (k,) float64: summed weights of each cluster. OUT
    counts : (k,) int64: number of rows of each cluster. OUT
    update_centers : bool: fill sums / weights / counts (else left untouched).
    compute_inertia : bool: compute the exact weighted inertia.
    small : bool: use the few-clusters tile (packing block = one vector).
    block : int: clusters per packed block of the chosen tile.
    chunk_rows : int: rows per chunk, a multiple of both tiles' row counts.
    cluster_block : int: centers per cache block (multiple of ``block``).
    n_slots : int: number of partial-result slots, independent of the thread count.
    direct : bool: add rows straight to the float64 sums (else through per-chunk sums in
        X's dtype; see ``_fold_chunk``).
    shifted : bool: subtract ``shift`` (the few-clusters tile and the row sums as they
        read X, the many-clusters tile through a centered copy of each chunk); when False
        the tiles read X as it is (shift must then be zeros).
    n_threads : int: ``numba.get_num_threads()``, sizes the per-thread scratch (passed in:
        calling it here would make the function uncachable); 1 runs the pass on the
        calling thread without entering the parallel region.
    around_centers : bool: when not ``shifted``, measure around the centers' mean if it
        lies farther from the origin than their spread (:func:`centers_frame`): ``shift``
        and ``centers`` are then replaced by that mean and the moved centers (the sums
        come out in that frame). Decided here, in the compiled call, so that a one-row
        ``predict`` pays no second call for it.

    Returns
    -------
    n_changed : int: number of labels that differ from the input labels.
    inertia : float: 0.0 unless compute_inertia.
    """
    if around_centers and not shifted:
        far, origin, moved = centers_frame(centers)
        if far:
            shift = origin
            centers = moved
            shifted = True
    d = X.shape[1]
    k = centers.shape[0]
    dtype = X.dtype
    kpad = (k + block - 1) // block * block
    step = SMALL_STEP if small else 1
    packed = _aligned_empty(kpad * ((d + step - 1) // step * step), dtype)
    norms = _aligned_empty(kpad, dtype)
    pack_centers(centers, block, step, packed, norms)
    k_acc = k if update_centers else 1
    # per-cluster sums in rows padded to whole cache lines (vector stores stay aligned)
    d64 = _row_length(d, 8)
    slot_sums = _aligned_empty(n_slots * k_acc * d64, np.float64)
    slot_sums = slot_sums.reshape((n_slots, k_acc, d64))[:, :, :d]
    slot_weights = np.empty((n_slots, k_acc), np.float64)
    slot_counts = np.empty((n_slots, k_acc), np.int64)
    slot_changed = np.zeros(n_slots, np.int64)
    slot_inertia = np.zeros(n_slots, np.float64)
    state = chunk_rows * block if kpad > cluster_block else 0
    k_chunk = 1 if direct else k_acc
    d_chunk = _row_length(d, X.itemsize)
    chunk_sums = _aligned_empty(n_threads * k_chunk * d_chunk, dtype)
    chunk_sums[:] = 0.0
    chunk_sums = chunk_sums.reshape((n_threads, k_chunk, d_chunk))[:, :, :d]
    arguments = (
        X,
        sample_weight,
        centers,
        shift,
        labels,
        packed,
        norms,
        slot_sums,
        slot_weights,
        slot_counts,
        slot_changed,
        slot_inertia,
        _aligned_empty(n_threads * chunk_rows * d, dtype).reshape((n_threads, chunk_rows, d)),
        np.empty((n_threads, chunk_rows), np.int32),
        np.empty((n_threads, chunk_rows), dtype),
        # (chunk_rows * block values: a multiple of 64 bytes per thread)
        _aligned_empty(n_threads * state, dtype).reshape((n_threads, state)),
        _aligned_empty(n_threads * state, np.int32).reshape((n_threads, state)),
        chunk_sums,
        np.zeros((n_threads, k_chunk), np.int64),
        update_centers,
        compute_inertia,
        small,
        chunk_rows,
        cluster_block,
        direct,
        shifted,
    )
    if n_threads == 1:
        _run_slots_serial(n_slots, arguments)
    else:
        _run_slots(n_slots, arguments)
    if update_centers:
        # on the calling thread: a few million additions at most (a second parallel
        # region costs more to compile and to wake than it saves)
        for j in range(k):
            _merge_cluster(slot_sums, slot_weights, slot_counts, sums, weights, counts, j)
    n_changed = 0
    inertia = 0.0
    for slot in range(n_slots):
        n_changed += slot_changed[slot]
        inertia += slot_inertia[slot]
    return n_changed, inertia
