"""ember.vision.ops box utilities, NMS and detection losses (torchvision.ops.boxes and the *_loss modules).

Every function is checked without torchvision: hand-computed values, round trips, float64 central-difference
gradients, and a float64 greedy NMS written here. With EMBER_TORCHVISION_PATH pointing at a torchvision,
values, dtypes, gradients and messages are also compared with it (its C++ nms does not need to load: the
batched NMS comparison swaps in a torch greedy NMS).
"""
import math

import numpy as np
import pytest

import ember
from ember.vision import ops
from tests.conftest import numeric_grad, real_torchvision, requires_torch, torch

tv = real_torchvision("torchvision.ops")
requires_tv = pytest.mark.skipif(tv is None, reason="torchvision (the oracle) is not available")
AXIS = ("xyxy", "xywh", "cxcywh")


def random_boxes(rng, *shape, scale=10.0):
    """xyxy boxes of positive size, float64, shape (*shape, 4)."""
    xy = rng.uniform(0, scale, shape + (2,))
    return np.concatenate([xy, xy + rng.uniform(0.5, scale / 2, shape + (2,))], -1)


def grad_of(fn, *arrays, weight=None):
    """Autograd gradients of sum(weight * fn(*tensors)) with respect to each float64 input array."""
    ts = [ember.tensor(a, requires_grad=True) for a in arrays]
    out = fn(*ts)
    (out * ember.tensor(weight) if weight is not None else out).sum().backward()
    return [t.grad.numpy() for t in ts]


def check_grad(fn, a, b, weight=None, atol=1e-6):
    """fn's autograd gradients against float64 central differences, for both box arguments."""
    ga, gb = grad_of(fn, a, b, weight=weight)

    def scalar(x, y):
        out = fn(ember.tensor(x), ember.tensor(y)).numpy()
        return float((out * weight).sum() if weight is not None else out.sum())
    np.testing.assert_allclose(ga, numeric_grad(lambda x: scalar(x, b), a), atol=atol)
    np.testing.assert_allclose(gb, numeric_grad(lambda y: scalar(a, y), b), atol=atol)


# ---- formats and areas -------------------------------------------------------------------------
def test_box_convert_hand_values_dtypes_and_errors():
    xyxy = ember.tensor([[1, 2, 5, 8]])
    assert ops.box_convert(xyxy, "xyxy", "xywh").tolist() == [[1, 2, 4, 6]]
    assert ops.box_convert(xyxy, "xyxy", "xywh").dtype == ember.int64  # no division: ints stay ints
    cxcywh = ops.box_convert(xyxy, "xyxy", "cxcywh")
    assert cxcywh.dtype == ember.float32 and cxcywh.tolist() == [[3.0, 5.0, 4.0, 6.0]]
    assert ops.box_convert(ember.tensor([[3.0, 5, 4, 6]]), "cxcywh", "xywh").tolist() == [[1, 2, 4, 6]]
    same = ops.box_convert(xyxy, "xyxy", "xyxy")
    assert same is not xyxy and same.tolist() == xyxy.tolist()
    with pytest.raises(ValueError, match="^Unsupported Bounding Box Conversions for given in_fmt xyxy and out_fmt "
                                         "xxyy$"):
        ops.box_convert(xyxy, "xyxy", "xxyy")
    with pytest.raises(NotImplementedError, match="in_fmt xyxy and out_fmt xywhr"):
        ops.box_convert(xyxy, "xyxy", "xywhr")


def test_box_convert_round_trips_keep_leading_dims_and_gradients():
    rng = np.random.default_rng(0)
    b = ember.tensor(random_boxes(rng, 2, 3))
    for f in AXIS:
        for g in AXIS:
            back = ops.box_convert(ops.box_convert(b, "xyxy", f), f, g)
            np.testing.assert_allclose(ops.box_convert(back, g, "xyxy").numpy(), b.numpy(), atol=1e-12)
    a = random_boxes(rng, 4)
    w = rng.standard_normal((4, 4))
    g, = grad_of(lambda x: ops.box_convert(x, "xywh", "cxcywh"), a, weight=w)
    # cx = x + w/2, cy = y + h/2, w, h: the Jacobian is constant
    np.testing.assert_allclose(g, np.stack([w[:, 0], w[:, 1], w[:, 0] / 2 + w[:, 2], w[:, 1] / 2 + w[:, 3]], 1))


def test_rotated_box_convert_hand_values_and_round_trip():
    square = ember.tensor([[0.0, 0.0, 2.0, 2.0, 0.0], [0.0, 0.0, 4.0, 2.0, 90.0]], dtype=ember.float64)
    np.testing.assert_allclose(ops.box_convert(square, "cxcywhr", "xywhr").numpy(),
                               [[-1, -1, 2, 2, 0], [-1, 2, 4, 2, 90]], atol=1e-12)
    # a 4x2 box turned 90 degrees counter-clockwise: its top edge now runs upwards
    np.testing.assert_allclose(ops.box_convert(square, "cxcywhr", "xyxyxyxy").numpy(),
                               [[-1, -1, 1, -1, 1, 1, -1, 1], [-1, 2, -1, -2, 1, -2, 1, 2]], atol=1e-12)
    rng = np.random.default_rng(1)
    r = np.concatenate([random_boxes(rng, 5), rng.uniform(-170, 170, (5, 1))], 1)
    corners = ops.box_convert(ember.tensor(r), "cxcywhr", "xyxyxyxy")
    np.testing.assert_allclose(ops.box_convert(corners, "xyxyxyxy", "cxcywhr").numpy(), r, atol=1e-9)
    np.testing.assert_allclose(ops.box_convert(ops.box_convert(ember.tensor(r), "xywhr", "cxcywhr"),
                                               "cxcywhr", "xywhr").numpy(), r, atol=1e-9)
    ints = ops.box_convert(ember.tensor([[10, 10, 4, 2, 30]]), "cxcywhr", "xywhr")
    assert ints.dtype == ember.int64 and ints.tolist() == [[8, 10, 4, 2, 30]]  # 7.77, 10.13 rounded


def test_box_area_formats_and_upcast():
    b = ember.tensor([[1.0, 2.0, 4.0, 6.0], [0.0, 0.0, 0.5, 0.5]])
    assert ops.box_area(b).tolist() == [12.0, 0.25]
    assert ops.box_area(b, fmt="xywh").tolist() == [24.0, 0.25]  # width * height
    assert ops.box_area(b, fmt="cxcywh").tolist() == [24.0, 0.25]
    big = ember.tensor([[0, 0, 200, 250]], dtype=ember.uint8)
    area = ops.box_area(big)
    assert area.dtype == ember.int32 and area.tolist() == [50000]  # no uint8 wrap-around
    assert ops.box_area(b.half()).dtype == ember.float32
    assert ops.box_area(ember.zeros(2, 3, 4)).shape == (2, 3)
    with pytest.raises(ValueError, match="^Unsupported Bounding Box area for given format xyx$"):
        ops.box_area(b, fmt="xyx")


# ---- the IoU family ----------------------------------------------------------------------------
def test_iou_family_hand_values():
    a = ember.tensor([[0.0, 0.0, 2.0, 2.0]], dtype=ember.float64)
    b = ember.tensor([[1.0, 1.0, 3.0, 3.0], [0.0, 0.0, 4.0, 2.0], [5.0, 0.0, 6.0, 1.0]], dtype=ember.float64)
    iou = ops.box_iou(a, b).numpy()
    np.testing.assert_allclose(iou, [[1 / 7, 0.5, 0.0]])
    for fmt in ("xywh", "cxcywh"):
        np.testing.assert_allclose(ops.box_iou(ops.box_convert(a, "xyxy", fmt), ops.box_convert(b, "xyxy", fmt),
                                               fmt=fmt).numpy(), iou, atol=1e-12)
    # enclosing boxes: 3x3, 4x2, 6x2
    np.testing.assert_allclose(ops.generalized_box_iou(a, b).numpy(),
                               [[1 / 7 - (9 - 7) / 9, 0.5, 0.0 - (12 - 5) / 12]])
    eps = 1e-7
    diou = [1 / 7 - 2 / (18 + eps), 0.5 - 1 / (20 + eps), 0 - (4.5 ** 2 + 0.5 ** 2) / (40 + eps)]
    np.testing.assert_allclose(ops.distance_box_iou(a, b).numpy(), [diou])
    v = 4 / math.pi ** 2 * (math.atan(1) - math.atan(2)) ** 2  # 2x2 against 4x2
    ciou = [diou[0], diou[1] - v / (1 - 0.5 + v + eps) * v, diou[2]]
    np.testing.assert_allclose(ops.complete_box_iou(a, b).numpy(), [ciou])
    rng = np.random.default_rng(11)
    lead = ops.box_iou(ember.tensor(random_boxes(rng, 2, 3, 4)), ember.tensor(random_boxes(rng, 2, 3, 5)))
    assert lead.shape == (2, 3, 4, 5)
    assert ops.generalized_box_iou(ember.zeros(0, 4), b.float()).shape == (0, 3)


def test_box_iou_format_errors():
    b = ember.ones(2, 4)
    with pytest.raises(ValueError, match=r"^Unsupported format 'xy'\. Supported axis-aligned formats: "
                                         r"\('xyxy', 'xywh', 'cxcywh'\)\. Supported rotated formats: "
                                         r"\('cxcywhr', 'xywhr', 'xyxyxyxy'\)\.$"):
        ops.box_iou(b, b, fmt="xy")
    with pytest.raises(NotImplementedError, match="box_iou_rotated"):
        ops.box_iou(ember.ones(2, 5), ember.ones(2, 5), fmt="cxcywhr")


def test_iou_family_gradients_match_central_differences():
    rng = np.random.default_rng(2)
    a, b = random_boxes(rng, 4), random_boxes(rng, 3)
    a[0, :2] = b[0, :2] + 0.3  # make sure some pairs overlap
    w = rng.standard_normal((4, 3))
    for fn in (ops.box_iou, ops.generalized_box_iou, ops.distance_box_iou):
        check_grad(fn, a, b, weight=w)
    for fmt in ("xywh", "cxcywh"):
        check_grad(lambda x, y: ops.box_iou(x, y, fmt=fmt), a, b, weight=w)

    # complete IoU treats its aspect-ratio weight alpha as a constant: differentiate with alpha frozen
    def aspect(x, y):
        return 4 / math.pi ** 2 * (np.arctan((x[:, None, 2] - x[:, None, 0]) / (x[:, None, 3] - x[:, None, 1]))
                                   - np.arctan((y[None, :, 2] - y[None, :, 0]) / (y[None, :, 3] - y[None, :, 1]))) ** 2
    iou, v = ops.box_iou(ember.tensor(a), ember.tensor(b)).numpy(), aspect(a, b)
    alpha = v / (1 - iou + v + 1e-7)
    ga, gb = grad_of(ops.complete_box_iou, a, b, weight=w)

    def frozen(x, y):
        diou = ops.distance_box_iou(ember.tensor(x), ember.tensor(y)).numpy()
        return float(((diou - alpha * aspect(x, y)) * w).sum())
    np.testing.assert_allclose(ga, numeric_grad(lambda x: frozen(x, b), a), atol=1e-6)
    np.testing.assert_allclose(gb, numeric_grad(lambda y: frozen(a, y), b), atol=1e-6)


# ---- clipping, filtering, masks ----------------------------------------------------------------
def test_clip_remove_small_and_masks_to_boxes():
    b = ember.tensor([[-1.0, 2.0, 30.0, 9.0], [3.0, -4.0, 5.0, 50.0]], requires_grad=True)
    clipped = ops.clip_boxes_to_image(b, (8, 20))
    assert clipped.tolist() == [[0.0, 2.0, 20.0, 8.0], [3.0, 0.0, 5.0, 8.0]]
    clipped.sum().backward()
    assert b.grad.tolist() == [[0.0, 1.0, 0.0, 0.0], [1.0, 0.0, 1.0, 0.0]]  # clamped coordinates get none
    assert ops.clip_boxes_to_image(ember.tensor([[-1, 2, 30, 9]]), (8, 20)).dtype == ember.int64
    assert ops.clip_boxes_to_image(ember.zeros(2, 3, 4), (1, 1)).shape == (2, 3, 4)
    with pytest.raises(ValueError):
        ops.clip_boxes_to_image(b, (1, 2, 3))

    boxes = ember.tensor([[0.0, 0.0, 1.0, 5.0], [0.0, 0.0, 2.0, 2.0], [1.0, 1.0, 4.0, 1.5], [0.0, 0.0, 3.0, 3.0]])
    keep = ops.remove_small_boxes(boxes, 2.0)
    assert keep.dtype == ember.int64 and keep.tolist() == [1, 3]
    assert ops.remove_small_boxes(ember.zeros(0, 4), 1.0).tolist() == []

    m = np.zeros((3, 5, 6), np.uint8)
    m[0, 1:3, 2:5] = 1
    m[1, 4, 5] = 7
    out = ops.masks_to_boxes(ember.tensor(m))
    assert out.dtype == ember.float32 and out.tolist() == [[2, 1, 4, 2], [5, 4, 5, 4], [0, 0, 0, 0]]
    empty = ops.masks_to_boxes(ember.zeros(0, 5, 6))
    assert empty.dtype == ember.float32 and empty.shape == (0, 4)
    with pytest.raises(ValueError, match="not enough values to unpack"):
        ops.masks_to_boxes(ember.ones(2, 3))


# ---- NMS ---------------------------------------------------------------------------------------
def greedy_nms(boxes, scores, thr, order=None):
    """Reference NMS in float64, one pair at a time; order: the score ranking (default: stable)."""
    b = np.asarray(boxes, np.float64)
    order = np.argsort(-np.asarray(scores), kind="stable") if order is None else order
    area = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    keep, gone = [], set()
    for n, i in enumerate(order):
        if i in gone:
            continue
        keep.append(int(i))
        for j in order[n + 1:]:
            w = min(b[i, 2], b[j, 2]) - max(b[i, 0], b[j, 0])
            h = min(b[i, 3], b[j, 3]) - max(b[i, 1], b[j, 1])
            inter = max(w, 0) * max(h, 0)
            if inter / (area[i] + area[j] - inter) > thr:
                gone.add(j)
    return keep


def test_nms_hand_example_and_random_against_greedy_reference():
    boxes = ember.tensor([[0.0, 0.0, 10.0, 10.0], [1.0, 1.0, 11.0, 11.0], [20.0, 20.0, 30.0, 30.0],
                          [0.0, 0.0, 10.0, 9.0]])
    scores = ember.tensor([0.8, 0.9, 0.3, 0.7])
    keep = ops.nms(boxes, scores, 0.5)
    # box 1 (best) suppresses box 0 (IoU 81/119); box 3 overlaps box 1 by 72/118 > 0.5; box 2 is alone
    assert keep.dtype == ember.int64 and keep.tolist() == [1, 2]
    assert ops.nms(boxes, scores, 0.7).tolist() == [1, 0, 2]  # box 3 overlaps box 0 by 0.9 (0 is kept now)
    rng = np.random.default_rng(3)
    for trial in range(30):
        n = int(rng.integers(1, 80))
        b, s = random_boxes(rng, n, scale=20), rng.random(n)
        thr = float(rng.uniform(0.05, 0.95))
        got = ops.nms(ember.tensor(b), ember.tensor(s), thr).tolist()
        assert got == greedy_nms(b, s, thr), trial
        s_kept = s[got]
        assert (np.diff(s_kept) <= 0).all()


def test_nms_empty_errors_and_dtypes():
    e = ops.nms(ember.zeros(0, 4), ember.zeros(0), 0.5)
    assert e.dtype == ember.int64 and e.shape == (0,)
    b, s = ember.rand(3, 4), ember.rand(3)
    for args, msg in [((ember.rand(4), s), "^boxes should be a 2d tensor, got 1D$"),
                      ((ember.rand(3, 5), s), "^boxes should have 4 elements in dimension 1, got 5$"),
                      ((b, ember.rand(3, 1)), "^scores should be a 1d tensor, got 2D$"),
                      ((b, ember.rand(4)), "^boxes and scores should have same number of elements in dimension 0, "
                                           "got 3 and 4$"),
                      ((b, s.double()), "^dets should have the same type as scores$")]:
        with pytest.raises(RuntimeError, match=msg):
            ops.nms(*args, 0.5)
    with pytest.raises(NotImplementedError, match="^\"nms_kernel\" not implemented for 'Long'$"):
        ops.nms(ember.ones(3, 4, dtype=ember.int64), ember.ones(3, dtype=ember.int64), 0.5)


def test_nms_computes_in_the_boxes_float_type_and_compares_in_double():
    # in float64 these two boxes overlap by exactly 19/48; torchvision's float32 kernel gets 0.39583334
    b = np.array([[4.0, 6.0, 7.5, 10.75], [3.5, 6.0, 10.5, 12.0]])
    s = np.array([0.9, 0.8])
    iou32 = float(np.float32(0.39583334))
    assert ops.nms(ember.tensor(b, dtype=ember.float32), ember.tensor(s, dtype=ember.float32), 19 / 48).tolist() == [0]
    assert ops.nms(ember.tensor(b), ember.tensor(s), 19 / 48).tolist() == [0, 1]
    # a threshold just under the float32 IoU that rounds to it in float32: the double comparison suppresses
    thr = iou32 - 1e-10
    assert np.float32(thr) == np.float32(iou32)
    assert ops.nms(ember.tensor(b, dtype=ember.float32), ember.tensor(s, dtype=ember.float32), thr).tolist() == [0]


def test_nms_order_of_equal_and_nan_scores():
    apart = np.array([[3.0 * i, 0.0, 3.0 * i + 1, 1.0] for i in range(12)])
    # up to 16 scores std::sort is an insertion sort: equal scores keep their index order; NaN ranks first
    s = np.array([1, 2, 1, 2, np.nan, 0, 2, 1, 0, 2, 1, 0], dtype=np.float32)
    assert ops.nms(ember.tensor(apart, dtype=ember.float32), ember.tensor(s), 0.5).tolist() == \
        [4, 1, 3, 6, 9, 0, 2, 7, 10, 5, 8, 11]


@requires_torch
def test_nms_ties_follow_torchs_unstable_cpu_sort():
    # (the order itself is ember.sort's replay of std::sort, tested with the sorts in tests/ops)
    from ember.vision.ops.boxes import _descending_order
    rng = np.random.default_rng(4)
    for trial in range(40):
        n = int(rng.integers(17, 400))
        s = rng.integers(0, int(rng.integers(1, 6)), n).astype(np.float32)
        if trial % 3 == 0:
            s[rng.random(n) < 0.2] = np.nan
        if trial % 4 == 0:
            s = np.sort(s)
        want = torch.tensor(s).sort(0, descending=True)[1].numpy()
        assert _descending_order(s).tolist() == want.tolist(), trial
        apart = np.array([[3.0 * i, 0.0, 3.0 * i + 1, 1.0] for i in range(n)], np.float32)
        assert ops.nms(ember.tensor(apart), ember.tensor(s), 0.5).tolist() == want.tolist()


def per_class_reference(b, s, idxs, thr):
    keep = []
    for c in np.unique(idxs):
        members = np.flatnonzero(idxs == c)
        keep += [int(members[k]) for k in greedy_nms(b[members], s[members], thr)]
    return sorted(keep, key=lambda i: -s[i])


def test_batched_nms_both_strategies_match_per_class_nms():
    rng = np.random.default_rng(5)
    for n in (40, 1500):  # 1500 boxes are 6000 numbers: past 4000 torchvision runs one nms per class
        b, s = random_boxes(rng, n, scale=30), rng.random(n)
        idxs = rng.integers(0, 4, n)
        got = ops.batched_nms(ember.tensor(b), ember.tensor(s), ember.tensor(idxs), 0.4)
        assert got.dtype == ember.int64 and got.tolist() == per_class_reference(b, s, idxs, 0.4)
    same = ember.tensor([[0.0, 0.0, 1.0, 1.0]] * 3)
    kept = ops.batched_nms(same, ember.tensor([0.5, 0.9, 0.7]), ember.tensor([0, 1, 0]), 0.5)
    assert kept.tolist() == [1, 2]  # a box never suppresses one of another category
    e = ops.batched_nms(ember.zeros(0, 4), ember.zeros(0), ember.zeros(0, dtype=ember.int64), 0.5)
    assert e.dtype == ember.int64 and e.shape == (0,)


# ---- losses ------------------------------------------------------------------------------------
LOSSES = ("generalized_box_iou_loss", "distance_box_iou_loss", "complete_box_iou_loss")


def test_box_losses_hand_values_reductions_and_errors():
    eps = 1e-7
    a = ember.tensor([[0.0, 0.0, 1.0, 1.0], [0.0, 0.0, 2.0, 2.0]], dtype=ember.float64)
    b = ember.tensor([[2.0, 0.0, 3.0, 1.0], [0.0, 0.0, 2.0, 2.0]], dtype=ember.float64)
    # disjoint unit squares 1 apart: IoU 0, enclosing box 3x1 (GIoU -1/3), centre distance 2, diagonal^2 10
    np.testing.assert_allclose(ops.generalized_box_iou_loss(a, b).numpy(), [1 + 1 / (3 + eps), 1 - 4 / (4 + eps)])
    np.testing.assert_allclose(ops.distance_box_iou_loss(a, b).numpy(), [1 + 4 / (10 + eps), 1 - 4 / (4 + eps)])
    np.testing.assert_allclose(ops.complete_box_iou_loss(a, b).numpy(), [1 + 4 / (10 + eps), 1 - 4 / (4 + eps)])
    c = ember.tensor([0.0, 0.0, 4.0, 2.0], dtype=ember.float64)  # one box each (Tensor[4]), aspect 2 vs 1
    v = 4 / math.pi ** 2 * (math.atan(2) - math.atan(1)) ** 2
    want = 1 - 4 / (8 + eps) + 1 / (20 + eps) + v / (1 - 4 / (8 + eps) + v + eps) * v
    np.testing.assert_allclose(ops.complete_box_iou_loss(a[1], c).item(), want)
    for name in LOSSES:
        fn = getattr(ops, name)
        full = fn(a, b).numpy()
        np.testing.assert_allclose(fn(a, b, reduction="mean").item(), full.mean())
        np.testing.assert_allclose(fn(a, b, reduction="sum").item(), full.sum())
        assert fn(a.int(), b.int()).dtype == ember.float32  # upcast: losses divide
        x = ember.zeros(0, 4, requires_grad=True)
        m = fn(x, ember.zeros(0, 4), reduction="mean")
        assert m.item() == 0.0 and m.requires_grad  # the mean of no boxes is 0, still on the graph
        with pytest.raises(ValueError, match="^Invalid Value for arg 'reduction': 'avg \n Supported reduction modes: "
                                             "'none', 'mean', 'sum'$"):
            fn(a, b, reduction="avg")


def test_box_loss_gradients_match_central_differences():
    rng = np.random.default_rng(6)
    a, b = random_boxes(rng, 6), random_boxes(rng, 6)
    a[1] = b[1] + [0.2, -0.1, 0.3, 0.4]
    w = rng.standard_normal(6)
    for name in LOSSES[:2]:
        check_grad(getattr(ops, name), a, b, weight=w)

    def parts(x, y):  # iou and aspect term of matching boxes, in float64
        iw = np.clip(np.minimum(x[:, 2], y[:, 2]) - np.maximum(x[:, 0], y[:, 0]), 0, None)
        ih = np.clip(np.minimum(x[:, 3], y[:, 3]) - np.maximum(x[:, 1], y[:, 1]), 0, None)
        area = lambda z: (z[:, 2] - z[:, 0]) * (z[:, 3] - z[:, 1])  # noqa: E731
        iou = iw * ih / (area(x) + area(y) - iw * ih + 1e-7)
        v = 4 / math.pi ** 2 * (np.arctan((y[:, 2] - y[:, 0]) / (y[:, 3] - y[:, 1]))
                                - np.arctan((x[:, 2] - x[:, 0]) / (x[:, 3] - x[:, 1]))) ** 2
        return iou, v
    iou, v = parts(a, b)
    alpha = v / (1 - iou + v + 1e-7)  # a constant for the gradient, as in torchvision
    ga, gb = grad_of(ops.complete_box_iou_loss, a, b, weight=w)

    def frozen(x, y):
        d = ops.distance_box_iou_loss(ember.tensor(x), ember.tensor(y)).numpy()
        return float(((d + alpha * parts(x, y)[1]) * w).sum())
    np.testing.assert_allclose(ga, numeric_grad(lambda x: frozen(x, b), a), atol=1e-6)
    np.testing.assert_allclose(gb, numeric_grad(lambda y: frozen(a, y), b), atol=1e-6)


def test_sigmoid_focal_loss_values_gradient_and_errors():
    x, t = ember.tensor([0.0, 0.0]), ember.tensor([1.0, 0.0])
    ln2 = math.log(2)
    np.testing.assert_allclose(ops.sigmoid_focal_loss(x, t).numpy(), [0.25 * 0.25 * ln2, 0.75 * 0.25 * ln2], rtol=1e-6)
    np.testing.assert_allclose(ops.sigmoid_focal_loss(x, t, alpha=-1, gamma=0).numpy(), [ln2, ln2], rtol=1e-6)
    rng = np.random.default_rng(7)
    logits, target = rng.standard_normal((3, 4)), (rng.random((3, 4)) > 0.5).astype(np.float64)
    for alpha, gamma in ((0.25, 2), (-1, 1.5), (1.0, 0)):
        def f(z):
            return ops.sigmoid_focal_loss(ember.tensor(z), ember.tensor(target), alpha, gamma, "sum").item()
        z = ember.tensor(logits, requires_grad=True)
        ops.sigmoid_focal_loss(z, ember.tensor(target), alpha, gamma, "sum").backward()
        np.testing.assert_allclose(z.grad.numpy(), numeric_grad(f, logits), atol=1e-7)
        full = ops.sigmoid_focal_loss(ember.tensor(logits), ember.tensor(target), alpha, gamma).numpy()
        np.testing.assert_allclose(ops.sigmoid_focal_loss(ember.tensor(logits), ember.tensor(target), alpha, gamma,
                                                          "mean").item(), full.mean())
    with pytest.raises(ValueError, match=r"^Invalid alpha value: 2\. alpha must be in the range \[0,1\] or -1 for "
                                         r"ignore\.$"):
        ops.sigmoid_focal_loss(x, t, alpha=2)
    with pytest.raises(ValueError, match="^Invalid Value for arg 'reduction': 'max"):
        ops.sigmoid_focal_loss(x, t, reduction="max")


def test_public_names_and_docstrings():
    names = ["box_convert", "box_area", "box_iou", "generalized_box_iou", "distance_box_iou", "complete_box_iou",
             "clip_boxes_to_image", "remove_small_boxes", "masks_to_boxes", "nms", "batched_nms",
             "sigmoid_focal_loss", *LOSSES]
    for name in names:
        assert name in ops.__all__ and getattr(ops, name).__doc__, name


# ---- the torchvision oracle ----------------------------------------------------------------------
def same(ours, theirs, tol=1e-6):
    assert str(ours.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1]
    assert tuple(ours.shape) == tuple(theirs.shape)
    np.testing.assert_allclose(ours.detach().numpy().astype(np.float64), theirs.detach().numpy().astype(np.float64),
                               rtol=tol, atol=tol)


@requires_tv
@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")  # int boxes rounded to zero height
@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "int64", "int32", "uint8"])
def test_box_functions_match_torchvision(dtype):
    rng = np.random.default_rng(8)
    tol = 2e-3 if dtype == "float16" else 1e-5
    a, b = random_boxes(rng, 2, 5).astype(dtype), random_boxes(rng, 2, 4).astype(dtype)
    ea, eb, ta, tb = ember.tensor(a), ember.tensor(b), torch.tensor(a), torch.tensor(b)
    for fmt in AXIS:
        same(ops.box_area(ea, fmt), tv.box_area(ta, fmt), tol)
        same(ops.box_iou(ea, eb, fmt), tv.box_iou(ta, tb, fmt), tol)
        for out in AXIS:
            same(ops.box_convert(ea, fmt, out), tv.box_convert(ta, fmt, out), tol)
    for name in ("generalized_box_iou", "distance_box_iou", "complete_box_iou"):
        same(getattr(ops, name)(ea, eb), getattr(tv, name)(ta, tb), tol)
    same(ops.clip_boxes_to_image(ea, (6, 7)), tv.clip_boxes_to_image(ta, (6, 7)))
    same(ops.remove_small_boxes(ea[0], 3), tv.remove_small_boxes(ta[0], 3))
    for name in LOSSES:
        for reduction in ("none", "mean", "sum"):
            same(getattr(ops, name)(ea[:, :4], eb, reduction), getattr(tv, name)(ta[:, :4], tb, reduction), tol)
    r = np.concatenate([random_boxes(rng, 4), rng.uniform(-90, 90, (4, 1))], 1).astype(dtype)
    for f, g in (("cxcywhr", "xywhr"), ("xywhr", "cxcywhr"), ("cxcywhr", "xyxyxyxy"), ("xywhr", "xyxyxyxy")):
        corners = tv.box_convert(torch.tensor(r), f, g)
        same(ops.box_convert(ember.tensor(r), f, g), corners, 20 * tol)
        same(ops.box_convert(ember.tensor(corners.numpy()), g, f), tv.box_convert(corners, g, f), 20 * tol)


@requires_tv
def test_gradients_masks_focal_and_errors_match_torchvision():
    rng = np.random.default_rng(9)
    a, b = random_boxes(rng, 5), random_boxes(rng, 5)
    a[0] = b[0]
    w = rng.standard_normal((5, 5))
    pairs = [(n, n) for n in ("box_iou", "generalized_box_iou", "distance_box_iou", "complete_box_iou")]
    for ours, theirs in pairs + [(n, n) for n in LOSSES]:
        weight = w if ours in dict(pairs) else w[0]
        ea, eb = ember.tensor(a, requires_grad=True), ember.tensor(b, requires_grad=True)
        ta, tb = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
        (getattr(ops, ours)(ea, eb) * ember.tensor(weight)).sum().backward()
        (getattr(tv, theirs)(ta, tb) * torch.tensor(weight)).sum().backward()
        same(ea.grad, ta.grad, 1e-9)
        same(eb.grad, tb.grad, 1e-9)
    x, t = rng.standard_normal((4, 3)), (rng.random((4, 3)) > 0.5).astype(np.float32)
    for alpha, gamma, reduction in ((0.25, 2, "none"), (-1, 0, "mean"), (0.7, 1.5, "sum")):
        ex, tx = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        e = ops.sigmoid_focal_loss(ex, ember.tensor(t), alpha, gamma, reduction)
        r = tv.sigmoid_focal_loss(tx, torch.tensor(t), alpha, gamma, reduction)
        same(e, r)
        e.sum().backward()
        r.sum().backward()
        same(ex.grad, tx.grad)
    m = (rng.random((4, 6, 7)) > 0.9).astype(np.uint8)
    m[2] = 0
    same(ops.masks_to_boxes(ember.tensor(m)), tv.masks_to_boxes(torch.tensor(m)))
    bad_calls = [("box_convert", ("xyxy", "xxyy")), ("box_convert", ("xyxy", "xywhr")), ("box_area", ("xyx",)),
                 ("box_iou", (None, "xy")), ("sigmoid_focal_loss", (None, 2.0)),
                 ("generalized_box_iou_loss", (None, "avg")), ("complete_box_iou_loss", (None, "avg"))]
    for name, extra in bad_calls:
        errors = []
        for mod, lib in ((ops, ember), (tv, torch)):
            args = [lib.tensor(a) if x is None else x for x in extra]
            try:
                getattr(mod, name)(lib.tensor(a), *args)
            except Exception as exc:  # noqa: BLE001 - comparing what each raises
                errors.append((type(exc), str(exc)))
        assert len(errors) == 2 and errors[0] == errors[1], (name, errors)


@requires_tv
def test_batched_nms_strategies_match_torchvision(monkeypatch):
    """torchvision's own batched_nms code, its C++ nms replaced by a torch greedy NMS in the kernel's manner."""
    import torchvision.ops.boxes as tv_boxes

    def torch_nms(boxes, scores, thr):
        order = scores.sort(0, descending=True)[1]
        return torch.tensor(greedy_nms(boxes.double().numpy(), scores.numpy(), thr, order.numpy()), dtype=torch.int64)
    monkeypatch.setattr(tv_boxes, "nms", torch_nms)
    rng = np.random.default_rng(10)
    for n in (60, 1200):
        b, s = random_boxes(rng, n, scale=40), rng.integers(0, 20, n) / 20  # many equal scores
        idxs = rng.integers(0, 5, n)
        args = (torch.tensor(b), torch.tensor(s), torch.tensor(idxs), 0.3)
        want = tv_boxes.batched_nms(*args)
        assert ops.batched_nms(ember.tensor(b), ember.tensor(s), ember.tensor(idxs), 0.3).tolist() == want.tolist()
