;; One Householder step of src/autograd/linalg.ts householderR in WebAssembly SIMD:
;; A <- (I - 2 v v^T / vnorm) A on rows j .. m - 1 of columns j .. n - 1, A column-major
;; [m, n] f64 at byte 0 of the memory, v (f64, indexed by row) at byte vAt. Two rows
;; per f64x2 and four columns per pass over v; V8 compiles the same loops in
;; JavaScript to scalar code with a bounds check per access.
(module
  (memory (export "memory") 1)
  (func (export "reflect") (param $m i32) (param $n i32) (param $j i32) (param $vAt i32) (param $vnorm f64)
    (local $c i32)
    (local.set $c (local.get $j))
    (block $fours (loop $four
      (br_if $fours (i32.gt_s (i32.add (local.get $c) (i32.const 4)) (local.get $n)))
      (call $columns4 (local.get $m) (local.get $c) (local.get $j) (local.get $vAt) (local.get $vnorm))
      (local.set $c (i32.add (local.get $c) (i32.const 4)))
      (br $four)))
    (block $ones (loop $one
      (br_if $ones (i32.ge_s (local.get $c) (local.get $n)))
      (call $columns1 (local.get $m) (local.get $c) (local.get $j) (local.get $vAt) (local.get $vnorm))
      (local.set $c (i32.add (local.get $c) (i32.const 1)))
      (br $one))))
  ;; Columns c .. c + 3.
  (func $columns4 (param $m i32) (param $c i32) (param $j i32) (param $vAt i32) (param $vnorm f64)
    (local $p0 i32) (local $p1 i32) (local $p2 i32) (local $p3 i32) (local $pv i32) (local $i i32) (local $vv v128)
    (local $d0 v128) (local $t0 f64) (local $s0 v128) (local $d1 v128) (local $t1 f64) (local $s1 v128) (local $d2 v128) (local $t2 f64) (local $s2 v128) (local $d3 v128) (local $t3 f64) (local $s3 v128)
    (local.set $p0 (i32.shl (i32.add (i32.mul (i32.add (local.get $c) (i32.const 0)) (local.get $m)) (local.get $j)) (i32.const 3)))
    (local.set $p1 (i32.shl (i32.add (i32.mul (i32.add (local.get $c) (i32.const 1)) (local.get $m)) (local.get $j)) (i32.const 3)))
    (local.set $p2 (i32.shl (i32.add (i32.mul (i32.add (local.get $c) (i32.const 2)) (local.get $m)) (local.get $j)) (i32.const 3)))
    (local.set $p3 (i32.shl (i32.add (i32.mul (i32.add (local.get $c) (i32.const 3)) (local.get $m)) (local.get $j)) (i32.const 3)))
    (local.set $pv (i32.add (local.get $vAt) (i32.shl (local.get $j) (i32.const 3))))
    (local.set $i (local.get $j))
    ;; Dot products, two rows a step (lane 0 the even steps, lane 1 the odd), then the odd row left.
    (block $dotted (loop $dot
      (br_if $dotted (i32.ge_s (i32.add (local.get $i) (i32.const 1)) (local.get $m)))
      (local.set $vv (v128.load (local.get $pv)))
      (local.set $d0 (f64x2.add (local.get $d0) (f64x2.mul (local.get $vv) (v128.load (local.get $p0)))))
      (local.set $d1 (f64x2.add (local.get $d1) (f64x2.mul (local.get $vv) (v128.load (local.get $p1)))))
      (local.set $d2 (f64x2.add (local.get $d2) (f64x2.mul (local.get $vv) (v128.load (local.get $p2)))))
      (local.set $d3 (f64x2.add (local.get $d3) (f64x2.mul (local.get $vv) (v128.load (local.get $p3)))))
      (local.set $p0 (i32.add (local.get $p0) (i32.const 16)))
      (local.set $p1 (i32.add (local.get $p1) (i32.const 16)))
      (local.set $p2 (i32.add (local.get $p2) (i32.const 16)))
      (local.set $p3 (i32.add (local.get $p3) (i32.const 16)))
      (local.set $pv (i32.add (local.get $pv) (i32.const 16)))
      (local.set $i (i32.add (local.get $i) (i32.const 2)))
      (br $dot)))
    (if (i32.lt_s (local.get $i) (local.get $m)) (then
      (local.set $t0 (f64.mul (f64.load (local.get $pv)) (f64.load (local.get $p0))))
      (local.set $t1 (f64.mul (f64.load (local.get $pv)) (f64.load (local.get $p1))))
      (local.set $t2 (f64.mul (f64.load (local.get $pv)) (f64.load (local.get $p2))))
      (local.set $t3 (f64.mul (f64.load (local.get $pv)) (f64.load (local.get $p3))))
    ))
    (local.set $s0 (f64x2.splat (f64.div (f64.mul (f64.const 2) (f64.add (f64.add (f64x2.extract_lane 0 (local.get $d0)) (f64x2.extract_lane 1 (local.get $d0))) (local.get $t0))) (local.get $vnorm))))
    (local.set $s1 (f64x2.splat (f64.div (f64.mul (f64.const 2) (f64.add (f64.add (f64x2.extract_lane 0 (local.get $d1)) (f64x2.extract_lane 1 (local.get $d1))) (local.get $t1))) (local.get $vnorm))))
    (local.set $s2 (f64x2.splat (f64.div (f64.mul (f64.const 2) (f64.add (f64.add (f64x2.extract_lane 0 (local.get $d2)) (f64x2.extract_lane 1 (local.get $d2))) (local.get $t2))) (local.get $vnorm))))
    (local.set $s3 (f64x2.splat (f64.div (f64.mul (f64.const 2) (f64.add (f64.add (f64x2.extract_lane 0 (local.get $d3)) (f64x2.extract_lane 1 (local.get $d3))) (local.get $t3))) (local.get $vnorm))))
    (local.set $p0 (i32.shl (i32.add (i32.mul (i32.add (local.get $c) (i32.const 0)) (local.get $m)) (local.get $j)) (i32.const 3)))
    (local.set $p1 (i32.shl (i32.add (i32.mul (i32.add (local.get $c) (i32.const 1)) (local.get $m)) (local.get $j)) (i32.const 3)))
    (local.set $p2 (i32.shl (i32.add (i32.mul (i32.add (local.get $c) (i32.const 2)) (local.get $m)) (local.get $j)) (i32.const 3)))
    (local.set $p3 (i32.shl (i32.add (i32.mul (i32.add (local.get $c) (i32.const 3)) (local.get $m)) (local.get $j)) (i32.const 3)))
    (local.set $pv (i32.add (local.get $vAt) (i32.shl (local.get $j) (i32.const 3))))
    (local.set $i (local.get $j))
    (block $updated (loop $update
      (br_if $updated (i32.ge_s (i32.add (local.get $i) (i32.const 1)) (local.get $m)))
      (local.set $vv (v128.load (local.get $pv)))
      (v128.store (local.get $p0) (f64x2.sub (v128.load (local.get $p0)) (f64x2.mul (local.get $s0) (local.get $vv))))
      (v128.store (local.get $p1) (f64x2.sub (v128.load (local.get $p1)) (f64x2.mul (local.get $s1) (local.get $vv))))
      (v128.store (local.get $p2) (f64x2.sub (v128.load (local.get $p2)) (f64x2.mul (local.get $s2) (local.get $vv))))
      (v128.store (local.get $p3) (f64x2.sub (v128.load (local.get $p3)) (f64x2.mul (local.get $s3) (local.get $vv))))
      (local.set $p0 (i32.add (local.get $p0) (i32.const 16)))
      (local.set $p1 (i32.add (local.get $p1) (i32.const 16)))
      (local.set $p2 (i32.add (local.get $p2) (i32.const 16)))
      (local.set $p3 (i32.add (local.get $p3) (i32.const 16)))
      (local.set $pv (i32.add (local.get $pv) (i32.const 16)))
      (local.set $i (i32.add (local.get $i) (i32.const 2)))
      (br $update)))
    (if (i32.lt_s (local.get $i) (local.get $m)) (then
      (f64.store (local.get $p0) (f64.sub (f64.load (local.get $p0)) (f64.mul (f64x2.extract_lane 0 (local.get $s0)) (f64.load (local.get $pv)))))
      (f64.store (local.get $p1) (f64.sub (f64.load (local.get $p1)) (f64.mul (f64x2.extract_lane 0 (local.get $s1)) (f64.load (local.get $pv)))))
      (f64.store (local.get $p2) (f64.sub (f64.load (local.get $p2)) (f64.mul (f64x2.extract_lane 0 (local.get $s2)) (f64.load (local.get $pv)))))
      (f64.store (local.get $p3) (f64.sub (f64.load (local.get $p3)) (f64.mul (f64x2.extract_lane 0 (local.get $s3)) (f64.load (local.get $pv)))))
    )))
  ;; Columns c .. c + 0.
  (func $columns1 (param $m i32) (param $c i32) (param $j i32) (param $vAt i32) (param $vnorm f64)
    (local $p0 i32) (local $pv i32) (local $i i32) (local $vv v128)
    (local $d0 v128) (local $t0 f64) (local $s0 v128)
    (local.set $p0 (i32.shl (i32.add (i32.mul (i32.add (local.get $c) (i32.const 0)) (local.get $m)) (local.get $j)) (i32.const 3)))
    (local.set $pv (i32.add (local.get $vAt) (i32.shl (local.get $j) (i32.const 3))))
    (local.set $i (local.get $j))
    ;; Dot products, two rows a step (lane 0 the even steps, lane 1 the odd), then the odd row left.
    (block $dotted (loop $dot
      (br_if $dotted (i32.ge_s (i32.add (local.get $i) (i32.const 1)) (local.get $m)))
      (local.set $vv (v128.load (local.get $pv)))
      (local.set $d0 (f64x2.add (local.get $d0) (f64x2.mul (local.get $vv) (v128.load (local.get $p0)))))
      (local.set $p0 (i32.add (local.get $p0) (i32.const 16)))
      (local.set $pv (i32.add (local.get $pv) (i32.const 16)))
      (local.set $i (i32.add (local.get $i) (i32.const 2)))
      (br $dot)))
    (if (i32.lt_s (local.get $i) (local.get $m)) (then
      (local.set $t0 (f64.mul (f64.load (local.get $pv)) (f64.load (local.get $p0))))
    ))
    (local.set $s0 (f64x2.splat (f64.div (f64.mul (f64.const 2) (f64.add (f64.add (f64x2.extract_lane 0 (local.get $d0)) (f64x2.extract_lane 1 (local.get $d0))) (local.get $t0))) (local.get $vnorm))))
    (local.set $p0 (i32.shl (i32.add (i32.mul (i32.add (local.get $c) (i32.const 0)) (local.get $m)) (local.get $j)) (i32.const 3)))
    (local.set $pv (i32.add (local.get $vAt) (i32.shl (local.get $j) (i32.const 3))))
    (local.set $i (local.get $j))
    (block $updated (loop $update
      (br_if $updated (i32.ge_s (i32.add (local.get $i) (i32.const 1)) (local.get $m)))
      (local.set $vv (v128.load (local.get $pv)))
      (v128.store (local.get $p0) (f64x2.sub (v128.load (local.get $p0)) (f64x2.mul (local.get $s0) (local.get $vv))))
      (local.set $p0 (i32.add (local.get $p0) (i32.const 16)))
      (local.set $pv (i32.add (local.get $pv) (i32.const 16)))
      (local.set $i (i32.add (local.get $i) (i32.const 2)))
      (br $update)))
    (if (i32.lt_s (local.get $i) (local.get $m)) (then
      (f64.store (local.get $p0) (f64.sub (f64.load (local.get $p0)) (f64.mul (f64x2.extract_lane 0 (local.get $s0)) (f64.load (local.get $pv)))))
    )))
;; bidiagonal's reflections (src/autograd/linalg.ts) on B, row-major [rows, cols] f64 at
;; byte bAt. From the left, with v (indexed by row) at vAt and w (by column) at wAt:
;; w = v^T B on columns k + 1 .., then B -= (2 / vnorm) v w^T; two columns per f64x2,
;; each w[j] still summed over the rows in order, so the bits are JavaScript's.
  (func (export "left") (param $b i32) (param $rows i32) (param $cols i32) (param $k i32) (param $v i32) (param $w i32) (param $vnorm f64)
    (local $i i32) (local $j i32) (local $row i32) (local $vi v128) (local $pw i32) (local $pb i32) (local $s f64)
    ;; w[k + 1 ..] = 0
    (local.set $j (i32.add (local.get $k) (i32.const 1)))
    (block $zeroed (loop $zero
      (br_if $zeroed (i32.ge_s (local.get $j) (local.get $cols)))
      (f64.store (i32.add (local.get $w) (i32.shl (local.get $j) (i32.const 3))) (f64.const 0))
      (local.set $j (i32.add (local.get $j) (i32.const 1)))
      (br $zero)))
    (local.set $i (local.get $k))
    (block $summed (loop $sum
      (br_if $summed (i32.ge_s (local.get $i) (local.get $rows)))
      (local.set $vi (f64x2.splat (f64.load (i32.add (local.get $v) (i32.shl (local.get $i) (i32.const 3))))))
      (local.set $j (i32.add (local.get $k) (i32.const 1)))
      (local.set $pw (i32.add (local.get $w) (i32.shl (local.get $j) (i32.const 3))))
      (local.set $pb (i32.add (local.get $b) (i32.shl (i32.add (i32.mul (local.get $i) (local.get $cols)) (local.get $j)) (i32.const 3))))
      (block $pairs (loop $pair
        (br_if $pairs (i32.ge_s (i32.add (local.get $j) (i32.const 1)) (local.get $cols)))
        (v128.store (local.get $pw) (f64x2.add (v128.load (local.get $pw)) (f64x2.mul (local.get $vi) (v128.load (local.get $pb)))))
        (local.set $pw (i32.add (local.get $pw) (i32.const 16)))
        (local.set $pb (i32.add (local.get $pb) (i32.const 16)))
        (local.set $j (i32.add (local.get $j) (i32.const 2)))
        (br $pair)))
      (if (i32.lt_s (local.get $j) (local.get $cols)) (then
        (f64.store (local.get $pw) (f64.add (f64.load (local.get $pw)) (f64.mul (f64x2.extract_lane 0 (local.get $vi)) (f64.load (local.get $pb)))))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $sum)))
    (local.set $i (local.get $k))
    (block $updated (loop $update
      (br_if $updated (i32.ge_s (local.get $i) (local.get $rows)))
      (local.set $s (f64.div (f64.mul (f64.const 2) (f64.load (i32.add (local.get $v) (i32.shl (local.get $i) (i32.const 3))))) (local.get $vnorm)))
      (local.set $vi (f64x2.splat (local.get $s)))
      (local.set $j (i32.add (local.get $k) (i32.const 1)))
      (local.set $pw (i32.add (local.get $w) (i32.shl (local.get $j) (i32.const 3))))
      (local.set $pb (i32.add (local.get $b) (i32.shl (i32.add (i32.mul (local.get $i) (local.get $cols)) (local.get $j)) (i32.const 3))))
      (block $pairs2 (loop $pair2
        (br_if $pairs2 (i32.ge_s (i32.add (local.get $j) (i32.const 1)) (local.get $cols)))
        (v128.store (local.get $pb) (f64x2.sub (v128.load (local.get $pb)) (f64x2.mul (local.get $vi) (v128.load (local.get $pw)))))
        (local.set $pw (i32.add (local.get $pw) (i32.const 16)))
        (local.set $pb (i32.add (local.get $pb) (i32.const 16)))
        (local.set $j (i32.add (local.get $j) (i32.const 2)))
        (br $pair2)))
      (if (i32.lt_s (local.get $j) (local.get $cols)) (then
        (f64.store (local.get $pb) (f64.sub (f64.load (local.get $pb)) (f64.mul (local.get $s) (f64.load (local.get $pw)))))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $update))))
;; bidiagonal's reflections from the right: for each row i > k of B (bAt as above),
;; dot = B[i, k + 1 ..] . w[k + 1 ..], then B[i, k + 1 ..] -= (2 dot / unorm) w. Each dot
;; is summed over the columns in order, as JavaScript sums it, two rows to a vector and
;; two vectors a step (the sums' latency, not their arithmetic, bounds one row at a time).
  (func (export "right") (param $b i32) (param $rows i32) (param $cols i32) (param $k i32) (param $w i32) (param $unorm f64)
    (local $i i32) (local $j i32) (local $j0 i32) (local $r0 i32) (local $r1 i32) (local $r2 i32) (local $r3 i32) (local $rowBytes i32)
    (local $acc0 v128) (local $acc1 v128) (local $wj v128) (local $x v128) (local $off i32) (local $dot f64)
    (local.set $rowBytes (i32.shl (local.get $cols) (i32.const 3)))
    (local.set $j0 (i32.add (local.get $k) (i32.const 1)))
    (local.set $i (i32.add (local.get $k) (i32.const 1)))
    (block $quads (loop $quad
      (br_if $quads (i32.gt_s (i32.add (local.get $i) (i32.const 4)) (local.get $rows)))
      (local.set $r0 (i32.add (local.get $b) (i32.mul (local.get $i) (local.get $rowBytes))))
      (local.set $r1 (i32.add (local.get $r0) (local.get $rowBytes)))
      (local.set $r2 (i32.add (local.get $r1) (local.get $rowBytes)))
      (local.set $r3 (i32.add (local.get $r2) (local.get $rowBytes)))
      (local.set $acc0 (v128.const i64x2 0 0))
      (local.set $acc1 (v128.const i64x2 0 0))
      (local.set $j (local.get $j0))
      (block $done (loop $col
        (br_if $done (i32.ge_s (local.get $j) (local.get $cols)))
        (local.set $off (i32.shl (local.get $j) (i32.const 3)))
        (local.set $wj (v128.load64_splat (i32.add (local.get $w) (local.get $off))))
        (local.set $x (v128.load64_lane 1 (i32.add (local.get $r1) (local.get $off)) (v128.load64_splat (i32.add (local.get $r0) (local.get $off)))))
        (local.set $acc0 (f64x2.add (local.get $acc0) (f64x2.mul (local.get $x) (local.get $wj))))
        (local.set $x (v128.load64_lane 1 (i32.add (local.get $r3) (local.get $off)) (v128.load64_splat (i32.add (local.get $r2) (local.get $off)))))
        (local.set $acc1 (f64x2.add (local.get $acc1) (f64x2.mul (local.get $x) (local.get $wj))))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br $col)))
      (call $subtract (local.get $r0) (local.get $j0) (local.get $cols) (local.get $w) (f64.div (f64.mul (f64.const 2) (f64x2.extract_lane 0 (local.get $acc0))) (local.get $unorm)))
      (call $subtract (local.get $r1) (local.get $j0) (local.get $cols) (local.get $w) (f64.div (f64.mul (f64.const 2) (f64x2.extract_lane 1 (local.get $acc0))) (local.get $unorm)))
      (call $subtract (local.get $r2) (local.get $j0) (local.get $cols) (local.get $w) (f64.div (f64.mul (f64.const 2) (f64x2.extract_lane 0 (local.get $acc1))) (local.get $unorm)))
      (call $subtract (local.get $r3) (local.get $j0) (local.get $cols) (local.get $w) (f64.div (f64.mul (f64.const 2) (f64x2.extract_lane 1 (local.get $acc1))) (local.get $unorm)))
      (local.set $i (i32.add (local.get $i) (i32.const 4)))
      (br $quad)))
    (block $ones (loop $one
      (br_if $ones (i32.ge_s (local.get $i) (local.get $rows)))
      (local.set $r0 (i32.add (local.get $b) (i32.mul (local.get $i) (local.get $rowBytes))))
      (local.set $dot (f64.const 0))
      (local.set $j (local.get $j0))
      (block $done1 (loop $col1
        (br_if $done1 (i32.ge_s (local.get $j) (local.get $cols)))
        (local.set $off (i32.shl (local.get $j) (i32.const 3)))
        (local.set $dot (f64.add (local.get $dot) (f64.mul (f64.load (i32.add (local.get $r0) (local.get $off))) (f64.load (i32.add (local.get $w) (local.get $off))))))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br $col1)))
      (call $subtract (local.get $r0) (local.get $j0) (local.get $cols) (local.get $w) (f64.div (f64.mul (f64.const 2) (local.get $dot)) (local.get $unorm)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $one))))

  ;; row[j] -= s * w[j] for j in [j, cols): two columns per f64x2, the same operations.
  (func $subtract (param $row i32) (param $j i32) (param $cols i32) (param $w i32) (param $s f64)
    (local $sv v128) (local $pb i32) (local $pw i32)
    (local.set $sv (f64x2.splat (local.get $s)))
    (local.set $pb (i32.add (local.get $row) (i32.shl (local.get $j) (i32.const 3))))
    (local.set $pw (i32.add (local.get $w) (i32.shl (local.get $j) (i32.const 3))))
    (block $pairs (loop $pair
      (br_if $pairs (i32.ge_s (i32.add (local.get $j) (i32.const 1)) (local.get $cols)))
      (v128.store (local.get $pb) (f64x2.sub (v128.load (local.get $pb)) (f64x2.mul (local.get $sv) (v128.load (local.get $pw)))))
      (local.set $pb (i32.add (local.get $pb) (i32.const 16)))
      (local.set $pw (i32.add (local.get $pw) (i32.const 16)))
      (local.set $j (i32.add (local.get $j) (i32.const 2)))
      (br $pair)))
    (if (i32.lt_s (local.get $j) (local.get $cols)) (then
      (f64.store (local.get $pb) (f64.sub (f64.load (local.get $pb)) (f64.mul (local.get $s) (f64.load (local.get $pw))))))))
;; balancedRows's passes (src/autograd/linalg.ts) on a, row-major [m, dim] f64: every
;; entry divided as JavaScript divides it, two to a vector, and the largest magnitudes
;; taken exactly. `rows`: row i divided by scale[i] where it is above 0, and colMax[c]
;; raised to the magnitudes of column c. `cols`: column c divided by colMax[c] where it
;; is above 0, and scale[i] set to row i's largest magnitude when `track` is 1.
  (func (export "rows") (param $a i32) (param $m i32) (param $dim i32) (param $scale i32) (param $colMax i32)
    (local $i i32) (local $c i32) (local $s f64) (local $sv v128) (local $p i32) (local $q i32) (local $v v128) (local $x f64)
    (block $done (loop $row
      (br_if $done (i32.ge_s (local.get $i) (local.get $m)))
      (local.set $s (f64.load (i32.add (local.get $scale) (i32.shl (local.get $i) (i32.const 3)))))
      (local.set $sv (f64x2.splat (local.get $s)))
      (local.set $p (i32.add (local.get $a) (i32.shl (i32.mul (local.get $i) (local.get $dim)) (i32.const 3))))
      (local.set $q (local.get $colMax))
      (local.set $c (i32.const 0))
      (block $pairs (loop $pair
        (br_if $pairs (i32.gt_s (i32.add (local.get $c) (i32.const 2)) (local.get $dim)))
        (local.set $v (v128.load (local.get $p)))
        (if (f64.gt (local.get $s) (f64.const 0)) (then
          (local.set $v (f64x2.div (local.get $v) (local.get $sv)))
          (v128.store (local.get $p) (local.get $v))))
        (v128.store (local.get $q) (f64x2.max (v128.load (local.get $q)) (f64x2.abs (local.get $v))))
        (local.set $p (i32.add (local.get $p) (i32.const 16)))
        (local.set $q (i32.add (local.get $q) (i32.const 16)))
        (local.set $c (i32.add (local.get $c) (i32.const 2)))
        (br $pair)))
      (if (i32.lt_s (local.get $c) (local.get $dim)) (then
        (local.set $x (f64.load (local.get $p)))
        (if (f64.gt (local.get $s) (f64.const 0)) (then
          (local.set $x (f64.div (local.get $x) (local.get $s)))
          (f64.store (local.get $p) (local.get $x))))
        (f64.store (local.get $q) (f64.max (f64.load (local.get $q)) (f64.abs (local.get $x))))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $row))))

  (func (export "cols") (param $a i32) (param $m i32) (param $dim i32) (param $colMax i32) (param $scale i32) (param $track i32)
    (local $i i32) (local $c i32) (local $p i32) (local $q i32) (local $v v128) (local $cm v128) (local $big v128) (local $x f64) (local $y f64) (local $top f64)
    (block $done (loop $row
      (br_if $done (i32.ge_s (local.get $i) (local.get $m)))
      (local.set $p (i32.add (local.get $a) (i32.shl (i32.mul (local.get $i) (local.get $dim)) (i32.const 3))))
      (local.set $q (local.get $colMax))
      (local.set $big (v128.const i64x2 0 0))
      (local.set $c (i32.const 0))
      (block $pairs (loop $pair
        (br_if $pairs (i32.gt_s (i32.add (local.get $c) (i32.const 2)) (local.get $dim)))
        (local.set $cm (v128.load (local.get $q)))
        (local.set $v (v128.load (local.get $p)))
        ;; cm > 0 ? v / cm : v, lane by lane
        (local.set $v (v128.bitselect (f64x2.div (local.get $v) (local.get $cm)) (local.get $v) (f64x2.gt (local.get $cm) (v128.const i64x2 0 0))))
        (v128.store (local.get $p) (local.get $v))
        (local.set $big (f64x2.max (local.get $big) (f64x2.abs (local.get $v))))
        (local.set $p (i32.add (local.get $p) (i32.const 16)))
        (local.set $q (i32.add (local.get $q) (i32.const 16)))
        (local.set $c (i32.add (local.get $c) (i32.const 2)))
        (br $pair)))
      (local.set $top (f64.max (f64x2.extract_lane 0 (local.get $big)) (f64x2.extract_lane 1 (local.get $big))))
      (if (i32.lt_s (local.get $c) (local.get $dim)) (then
        (local.set $x (f64.load (local.get $p)))
        (local.set $y (f64.load (local.get $q)))
        (if (f64.gt (local.get $y) (f64.const 0)) (then
          (local.set $x (f64.div (local.get $x) (local.get $y)))
          (f64.store (local.get $p) (local.get $x))))
        (local.set $top (f64.max (local.get $top) (f64.abs (local.get $x))))))
      (if (local.get $track) (then (f64.store (i32.add (local.get $scale) (i32.shl (local.get $i) (i32.const 3))) (local.get $top))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $row))))
)
