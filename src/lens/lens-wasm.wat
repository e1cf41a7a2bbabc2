;; The logit lens on the CPU in WebAssembly SIMD (lens-wasm.ts): a chunk's logits,
;; then the vector scans its fold needs. Each logit is summed over k in order, a
;; multiply then an add, as kernels/lens.wgsl sums it, so the logits are the lens
;; kernel's bits. A row of logits is padded to whole vectors with NaN, which every
;; scan below ignores: NaN is neither above, below nor equal to anything.
(module
  (memory (export "memory") 1)

  ;; logits [rows, C] at outAt, row-major, of h [rows, d] at hAt (rows a multiple of 4)
  ;; against `blocks` blocks of 8 ids at eAt, each k-major [d][8]: 4 rows x 8 ids a tile,
  ;; eight vector accumulators. V8 keeps them in registers; 12 (6 rows) spilled, at
  ;; two thirds of the speed (bench/RESULTS.md, issue 28, 12).
  (func (export "logits") (param $hAt i32) (param $rows i32) (param $d i32) (param $eAt i32) (param $blocks i32) (param $outAt i32) (param $C i32)
    (local $g i32) (local $b i32) (local $h i32) (local $e i32) (local $end i32) (local $o i32) (local $rowBytes i32)
    (local $w0 v128) (local $w1 v128) (local $x v128)
    (local $a0 v128) (local $b0 v128) (local $a1 v128) (local $b1 v128) (local $a2 v128) (local $b2 v128)
    (local $a3 v128) (local $b3 v128)
    (local.set $rowBytes (i32.shl (local.get $d) (i32.const 2)))
    (block $groupsDone (loop $groups
      (br_if $groupsDone (i32.ge_u (local.get $g) (local.get $rows)))
      (local.set $b (i32.const 0))
      (block $blocksDone (loop $eachBlock
        (br_if $blocksDone (i32.ge_u (local.get $b) (local.get $blocks)))
        (local.set $a0 (v128.const i64x2 0 0)) (local.set $b0 (v128.const i64x2 0 0))
        (local.set $a1 (v128.const i64x2 0 0)) (local.set $b1 (v128.const i64x2 0 0))
        (local.set $a2 (v128.const i64x2 0 0)) (local.set $b2 (v128.const i64x2 0 0))
        (local.set $a3 (v128.const i64x2 0 0)) (local.set $b3 (v128.const i64x2 0 0))
        (local.set $h (i32.add (local.get $hAt) (i32.mul (local.get $g) (local.get $rowBytes))))
        (local.set $end (i32.add (local.get $h) (local.get $rowBytes)))
        (local.set $e (i32.add (local.get $eAt) (i32.mul (local.get $b) (i32.shl (local.get $rowBytes) (i32.const 3)))))
        (block $kDone (loop $eachK
          (br_if $kDone (i32.ge_u (local.get $h) (local.get $end)))
          (local.set $w0 (v128.load (local.get $e)))
          (local.set $w1 (v128.load offset=16 (local.get $e)))
          (local.set $x (v128.load32_splat (local.get $h)))
          (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $x) (local.get $w0))))
          (local.set $b0 (f32x4.add (local.get $b0) (f32x4.mul (local.get $x) (local.get $w1))))
          (local.set $x (v128.load32_splat (i32.add (local.get $h) (local.get $rowBytes))))
          (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (local.get $x) (local.get $w0))))
          (local.set $b1 (f32x4.add (local.get $b1) (f32x4.mul (local.get $x) (local.get $w1))))
          (local.set $x (v128.load32_splat (i32.add (local.get $h) (i32.mul (local.get $rowBytes) (i32.const 2)))))
          (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (local.get $x) (local.get $w0))))
          (local.set $b2 (f32x4.add (local.get $b2) (f32x4.mul (local.get $x) (local.get $w1))))
          (local.set $x (v128.load32_splat (i32.add (local.get $h) (i32.mul (local.get $rowBytes) (i32.const 3)))))
          (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (local.get $x) (local.get $w0))))
          (local.set $b3 (f32x4.add (local.get $b3) (f32x4.mul (local.get $x) (local.get $w1))))
          (local.set $h (i32.add (local.get $h) (i32.const 4)))
          (local.set $e (i32.add (local.get $e) (i32.const 32)))
          (br $eachK)))
        (local.set $o (i32.add (local.get $outAt) (i32.shl (i32.add (i32.mul (local.get $g) (local.get $C)) (i32.shl (local.get $b) (i32.const 3))) (i32.const 2))))
        (v128.store (local.get $o) (local.get $a0)) (v128.store offset=16 (local.get $o) (local.get $b0))
        (local.set $o (i32.add (local.get $o) (i32.shl (local.get $C) (i32.const 2))))
        (v128.store (local.get $o) (local.get $a1)) (v128.store offset=16 (local.get $o) (local.get $b1))
        (local.set $o (i32.add (local.get $o) (i32.shl (local.get $C) (i32.const 2))))
        (v128.store (local.get $o) (local.get $a2)) (v128.store offset=16 (local.get $o) (local.get $b2))
        (local.set $o (i32.add (local.get $o) (i32.shl (local.get $C) (i32.const 2))))
        (v128.store (local.get $o) (local.get $a3)) (v128.store offset=16 (local.get $o) (local.get $b3))
        (local.set $b (i32.add (local.get $b) (i32.const 1)))
        (br $eachBlock)))
      (local.set $g (i32.add (local.get $g) (i32.const 4)))
      (br $groups))))

  ;; The largest of the n4 vectors at `at` (pmax keeps the running value against a NaN).
  (func (export "rowMax") (param $at i32) (param $n4 i32) (result f32)
    (local $m v128) (local $end i32)
    (local.set $m (f32x4.splat (f32.const -inf)))
    (local.set $end (i32.add (local.get $at) (i32.shl (local.get $n4) (i32.const 4))))
    (block $done (loop $each
      (br_if $done (i32.ge_u (local.get $at) (local.get $end)))
      (local.set $m (f32x4.pmax (local.get $m) (v128.load (local.get $at))))
      (local.set $at (i32.add (local.get $at) (i32.const 16)))
      (br $each)))
    (f32.max
      (f32.max (f32x4.extract_lane 0 (local.get $m)) (f32x4.extract_lane 1 (local.get $m)))
      (f32.max (f32x4.extract_lane 2 (local.get $m)) (f32x4.extract_lane 3 (local.get $m)))))

  ;; Sum of exp(x - m) over the n4 vectors at `at`, NaN lanes left out, summed in f64.
  ;; exp as Cephes' expf: x = n ln 2 + r, |r| <= ln 2 / 2, a degree-6 polynomial of r
  ;; times 2^n; below -87 (where exp is under 2^-125 of the row's largest term) x is
  ;; clamped, so 2^n stays a normal number.
  (func (export "sumExp") (param $at i32) (param $n4 i32) (param $m f32) (result f64)
    (local $end i32) (local $v v128) (local $x v128) (local $n v128) (local $r v128) (local $p v128) (local $s v128)
    (local.set $s (v128.const i64x2 0 0))
    (local.set $end (i32.add (local.get $at) (i32.shl (local.get $n4) (i32.const 4))))
    (block $done (loop $each
      (br_if $done (i32.ge_u (local.get $at) (local.get $end)))
      (local.set $v (v128.load (local.get $at)))
      (local.set $x (f32x4.pmax (f32x4.sub (local.get $v) (f32x4.splat (local.get $m))) (f32x4.splat (f32.const -87))))
      (local.set $n (f32x4.nearest (f32x4.mul (local.get $x) (f32x4.splat (f32.const 1.44269504088896341)))))
      (local.set $r (f32x4.sub (f32x4.sub (local.get $x) (f32x4.mul (local.get $n) (f32x4.splat (f32.const 0.693359375))))
                               (f32x4.mul (local.get $n) (f32x4.splat (f32.const -2.12194440e-4)))))
      (local.set $p (f32x4.splat (f32.const 1.9875691500e-4)))
      (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (f32x4.splat (f32.const 1.3981999507e-3))))
      (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (f32x4.splat (f32.const 8.3334519073e-3))))
      (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (f32x4.splat (f32.const 4.1665795894e-2))))
      (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (f32x4.splat (f32.const 1.6666665459e-1))))
      (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (f32x4.splat (f32.const 5.0000001201e-1))))
      (local.set $p (f32x4.add (f32x4.add (f32x4.mul (f32x4.mul (local.get $p) (local.get $r)) (local.get $r)) (local.get $r)) (f32x4.splat (f32.const 1))))
      (local.set $p (f32x4.mul (local.get $p)
        (i32x4.shl (i32x4.add (i32x4.trunc_sat_f32x4_s (local.get $n)) (i32x4.splat (i32.const 127))) (i32.const 23))))
      (local.set $p (v128.and (local.get $p) (f32x4.eq (local.get $v) (local.get $v))))
      (local.set $s (f64x2.add (local.get $s) (f64x2.promote_low_f32x4 (local.get $p))))
      (local.set $s (f64x2.add (local.get $s) (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $p) (local.get $p)))))
      (local.set $at (i32.add (local.get $at) (i32.const 16)))
      (br $each)))
    (f64.add (f64x2.extract_lane 0 (local.get $s)) (f64x2.extract_lane 1 (local.get $s))))

  ;; The first index i in [from, n) whose value is above t (sign 1) or below it (sign -1),
  ;; or n. Reads whole vectors from `from` on: the row's padding keeps them inside it.
  (func (export "next") (param $at i32) (param $from i32) (param $n i32) (param $t f32) (param $sign i32) (result i32)
    (local $i i32) (local $v v128) (local $tv v128) (local $j i32) (local $x f32)
    (local.set $tv (f32x4.splat (local.get $t)))
    (local.set $i (local.get $from))
    (block $done (loop $each
      (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
      (local.set $v (v128.load (i32.add (local.get $at) (i32.shl (local.get $i) (i32.const 2)))))
      (if (v128.any_true (select (f32x4.gt (local.get $v) (local.get $tv)) (f32x4.lt (local.get $v) (local.get $tv)) (i32.gt_s (local.get $sign) (i32.const 0))))
        (then
          (local.set $j (local.get $i))
          (block $lanes (loop $lane
            (br_if $lanes (i32.ge_u (local.get $j) (select (local.get $n) (i32.add (local.get $i) (i32.const 4)) (i32.lt_u (local.get $n) (i32.add (local.get $i) (i32.const 4))))))
            (local.set $x (f32.load (i32.add (local.get $at) (i32.shl (local.get $j) (i32.const 2)))))
            (if (select (f32.gt (local.get $x) (local.get $t)) (f32.lt (local.get $x) (local.get $t)) (i32.gt_s (local.get $sign) (i32.const 0)))
              (then (return (local.get $j))))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $lane)))))
      (local.set $i (i32.add (local.get $i) (i32.const 4)))
      (br $each)))
    (local.get $n))

  ;; How many of the n4 vectors' values are above, below and equal to t: i32 at outAt,
  ;; outAt + 4, outAt + 8.
  (func (export "counts") (param $at i32) (param $n4 i32) (param $t f32) (param $outAt i32)
    (local $end i32) (local $v v128) (local $tv v128) (local $above v128) (local $below v128) (local $equal v128)
    (local.set $tv (f32x4.splat (local.get $t)))
    (local.set $above (v128.const i64x2 0 0)) (local.set $below (v128.const i64x2 0 0)) (local.set $equal (v128.const i64x2 0 0))
    (local.set $end (i32.add (local.get $at) (i32.shl (local.get $n4) (i32.const 4))))
    (block $done (loop $each
      (br_if $done (i32.ge_u (local.get $at) (local.get $end)))
      (local.set $v (v128.load (local.get $at)))
      ;; A true lane is -1: subtracting it counts one.
      (local.set $above (i32x4.sub (local.get $above) (f32x4.gt (local.get $v) (local.get $tv))))
      (local.set $below (i32x4.sub (local.get $below) (f32x4.lt (local.get $v) (local.get $tv))))
      (local.set $equal (i32x4.sub (local.get $equal) (f32x4.eq (local.get $v) (local.get $tv))))
      (local.set $at (i32.add (local.get $at) (i32.const 16)))
      (br $each)))
    (i32.store (local.get $outAt) (call $lanes (local.get $above)))
    (i32.store offset=4 (local.get $outAt) (call $lanes (local.get $below)))
    (i32.store offset=8 (local.get $outAt) (call $lanes (local.get $equal))))

  (func $lanes (param $v v128) (result i32)
    (i32.add
      (i32.add (i32x4.extract_lane 0 (local.get $v)) (i32x4.extract_lane 1 (local.get $v)))
      (i32.add (i32x4.extract_lane 2 (local.get $v)) (i32x4.extract_lane 3 (local.get $v))))))
