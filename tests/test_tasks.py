"""The data of jaxlstm.tasks, checked against independent recognizers and the papers' rules."""

import dataclasses
import math
import re

import jax
import numpy as np
import pytest
from tolerance import assert_close
from pydoc_data.topics import topics

from jaxlstm.tasks import (
    TASKS,
    Adding,
    Batch,
    CharText,
    ContinualEmbeddedReber,
    Copy,
    EmbeddedReber,
    Reber,
    TemporalOrder,
    embedded_reber_string,
    make_task,
    reber_string,
    text,
)

ALPHABET = "BTPSXVE"

# Reber's grammar, written out again independently of jaxlstm.tasks.reber.
GRAPH = {
    "start": {"B": 1},
    1: {"T": 2, "P": 3},
    2: {"S": 2, "X": 4},
    3: {"T": 3, "V": 5},
    4: {"X": 3, "S": "end"},
    5: {"P": 4, "V": "end"},
    "end": {"E": "done"},
    "done": {},
}
STATE4 = "(?:XT*VP)*(?:S|XT*VV)"
REBER_RE = re.compile(f"^B(?:TS*X{STATE4}|PT*V(?:V|P{STATE4}))E$")


def reber_next_sets(string):
    """The set of legal next symbols after each symbol of a Reber string (or a prefix of one)."""
    state, out = "start", []
    for symbol in string:
        if symbol not in GRAPH[state]:
            raise AssertionError(f"{string!r}: {symbol!r} is illegal in state {state}")
        state = GRAPH[state][symbol]
        out.append(set(GRAPH[state]))
    return out


def erg_next_sets(string, continual=False):
    """Legal next symbols after each symbol of an ERG string (or a prefix); E -> B if continual."""
    o = string[1:2]
    assert string[0] == "B" and o in ("", "T", "P"), string
    end = string.find("E", 2)  # the inner Reber string's E
    inner = string[2:] if end < 0 else string[2 : end + 1]
    out = [{"T", "P"}, {"B"}, *reber_next_sets(inner)]
    if end >= 0:
        assert REBER_RE.match(inner) and string[end + 1 :] == (o + "E")[: len(string) - end - 1]
        out[-1] = {o}
        out += [{"E"}, {"B"} if continual else set()]
    return out[: len(string)]


def decode(onehots, length):
    return "".join(ALPHABET[i] for i in onehots[:length].argmax(-1))


def multi_hot(sets):
    return np.array([[float(s in legal) for s in ALPHABET] for legal in sets], np.float32)


def small_tasks():
    return [
        Reber(),
        EmbeddedReber(),
        ContinualEmbeddedReber(length=40),
        Adding(length=20),
        Adding(length=20, form="modern"),
        TemporalOrder("6a"),
        TemporalOrder("6b"),
        Copy(num_symbols=4, length=5, delay=7),
        CharText(seq_len=12),
        CharText(seq_len=12, split="valid"),
    ]


TASK_IDS = ["reber", "erg", "cerg", "add97", "add_modern", "to6a", "to6b", "copy", "text", "valid"]


def assert_batches_equal(a, b):
    for name, x, y in zip(Batch._fields, a, b):
        assert x.dtype == y.dtype, name
        np.testing.assert_array_equal(x, y, err_msg=name)


# --- every task ---------------------------------------------------------------------------------


@pytest.mark.parametrize("task", small_tasks(), ids=TASK_IDS)
def test_batch_shapes_dtypes_and_padding(task):
    batch = task.sample(np.random.default_rng(3), 9)
    xs, targets, weights, lengths = batch
    T = int(lengths.max())
    assert xs.shape == (T, 9, task.input_size) and xs.dtype == np.float32
    assert targets.shape == (T, 9, task.output_size) and targets.dtype == np.float32
    assert weights.shape == (T, 9) and weights.dtype == np.float32
    assert lengths.shape == (9,) and lengths.dtype == np.int32
    valid = np.arange(T)[:, None] < lengths
    assert not xs[~valid].any() and not targets[~valid].any() and not weights[~valid].any()
    assert set(np.unique(weights)) <= {0.0, 1.0}
    assert (weights.sum(axis=0) >= 1).all()
    assert task.output in ("sigmoid", "linear", "softmax")


@pytest.mark.parametrize("task", small_tasks(), ids=TASK_IDS)
def test_sample_is_deterministic(task):
    a = task.sample(np.random.default_rng(7), 6)
    assert_batches_equal(a, task.sample(np.random.default_rng(7), 6))
    assert_batches_equal(a, task.sample(7, 6))  # an int seed is the same generator
    b = task.sample(np.random.default_rng(8), 6)
    assert not all(np.array_equal(x, y) for x, y in zip(a, b) if x.shape == y.shape)


def perturbed_at(task, batch, b, t):
    """Perfect predictions, but wrong for sequence b at step t."""
    predictions = batch.targets.copy()
    if task.output == "softmax":
        predictions[t, b] = np.roll(predictions[t, b], 1)
    else:
        predictions[t, b, 0] += 0.5
    return predictions


@pytest.mark.parametrize("task", small_tasks(), ids=TASK_IDS)
def test_correct_on_perfect_and_perturbed_predictions(task):
    batch = task.sample(np.random.default_rng(1), 5)
    assert np.asarray(task.correct(batch.targets, batch)).tolist() == [True] * 5
    last = int(np.flatnonzero(batch.weights[:, 2])[-1])
    predictions = perturbed_at(task, batch, b=2, t=last)
    expected = [True, True, False, True, True]
    assert np.asarray(task.correct(predictions, batch)).tolist() == expected
    jitted = jax.jit(task.correct)(jax.numpy.asarray(predictions), batch)
    assert jitted.dtype == bool and jitted.tolist() == expected
    stacked = np.stack([batch.targets, predictions])  # e.g. two seeds trained at once
    vmapped = jax.vmap(task.correct, in_axes=(0, None))(stacked, batch)
    assert vmapped.tolist() == [[True] * 5, expected]
    unweighted = np.flatnonzero(batch.weights[:, 2] == 0)
    if len(unweighted):  # an error where the weight is 0 does not count
        predictions = perturbed_at(task, batch, b=2, t=int(unweighted[0]))
        assert np.asarray(task.correct(predictions, batch)).all()


@pytest.mark.parametrize(
    ("task", "tolerance"),
    [(Reber(), 0.49), (EmbeddedReber(), 0.49), (Adding(length=20), 0.04),
     (Adding(length=20, form="modern"), 0.04), (TemporalOrder("6b"), 0.3)],
    ids=["reber", "erg", "add97", "add_modern", "to6b"],
)
def test_correct_uses_the_papers_tolerance(task, tolerance):
    batch = task.sample(np.random.default_rng(2), 4)
    sign = np.where(batch.targets > 0.5, -1.0, 1.0).astype(np.float32)
    inside = batch.targets + sign * np.float32(tolerance - 0.005)
    outside = batch.targets + sign * np.float32(tolerance + 0.005)
    assert np.asarray(task.correct(inside, batch)).all()
    assert not np.asarray(task.correct(outside, batch)).any()


def test_registry_and_make_task():
    assert list(TASKS)[:9] == ["reber", "erg", "cerg", "adding", "temporal_order", "copy", "text", "tmaze", "files"]
    for name in list(TASKS)[:8]:  # the generated ones; "files" needs a file (tests/test_files.py)
        assert type(make_task(name)) is TASKS[name]
    assert make_task("temporal_order", variant="6b") == TemporalOrder("6b")
    assert make_task("cerg", length=5).length == 5
    with pytest.raises(ValueError, match=r"unknown task 'ergg'; expected one of \['reber', 'erg'"):
        make_task("ergg")
    with pytest.raises(TypeError, match=r"'adding' \(Adding\) has no option 'lenght'.*'length'"):
        make_task("adding", lenght=100)
    with pytest.raises(dataclasses.FrozenInstanceError):
        Adding().length = 5  # type: ignore[misc]


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda: Adding(length=11), ValueError,
         r"Adding.length must be >= 12; got 11\. Hint: form='1997' needs T >= 12"),
        (lambda: Adding(length=1, form="modern"), ValueError,
         r"Adding.length must be >= 2; got 1\. Hint: form='modern'"),
        (lambda: Adding(length=100.0), TypeError, r"Adding.length must be an int; got 100.0"),
        (lambda: Adding(form="1998"), ValueError,
         r"Adding.form must be one of \['1997', 'modern'\]; got '1998'\. Hint: form='1997'"),
        (lambda: TemporalOrder("6c"), ValueError,
         r"TemporalOrder.variant must be one of \['6a', '6b'\]; got '6c'"),
        (lambda: Copy(num_symbols=0), ValueError, r"Copy.num_symbols must be >= 1; got 0"),
        (lambda: Copy(length=-1), ValueError, r"Copy.length must be >= 1; got -1\. Hint"),
        (lambda: Copy(delay=0), ValueError, r"Copy.delay must be >= 1; got 0\. Hint: delay is T"),
        (lambda: ContinualEmbeddedReber(length=-5), ValueError,
         r"ContinualEmbeddedReber.length must be >= 1; got -5"),
        (lambda: ContinualEmbeddedReber().stream(0, 2, 0), ValueError,
         r"ContinualEmbeddedReber.stream.length must be >= 1; got 0"),
        (lambda: CharText(split="test"), ValueError,
         r"CharText.split must be one of \['train', 'valid'\]; got 'test'"),
        (lambda: CharText(holdout=1.5), ValueError,
         r"CharText.holdout must be a fraction in \(0, 1\); got 1.5\. Hint"),
        (lambda: CharText(holdout="10%"), TypeError,
         r"CharText.holdout must be a float; got '10%'"),
        (lambda: CharText(seq_len=0), ValueError, r"CharText.seq_len must be >= 1; got 0"),
        (lambda: CharText(seq_len=10**7, split="valid"), ValueError,
         r"CharText.seq_len must be <= \d+, the characters the 'valid' split can predict"),
        (lambda: CharText().encode("snow\u2603"), ValueError,
         r"characters that are not in the vocabulary: \['\u2603'\]"),
        (lambda: Reber().sample(0, 0), ValueError, r"batch_size must be >= 1; got 0"),
        (lambda: Copy().sample(0, 2.5), TypeError, r"batch_size must be an int; got 2.5"),
        (lambda: Reber().sample("seed", 2), TypeError,
         r"rng must be a np.random.Generator or an int seed; got str"),
    ],
)
def test_errors(make, error, match):
    with pytest.raises(error, match=match):
        make()


# --- Reber, ERG, CERG ---------------------------------------------------------------------------


def test_reber_strings_follow_the_grammar_and_targets_are_the_legal_next_symbols():
    batch = Reber().sample(np.random.default_rng(0), 300)
    for b, length in enumerate(batch.seq_lengths):
        string = decode(batch.xs[:, b], length)
        assert REBER_RE.match(string), string
        np.testing.assert_array_equal(batch.targets[:length, b], multi_hot(reber_next_sets(string)))
        assert batch.weights[:, b].tolist() == [1.0] * (length - 1) + [0.0] * (
            len(batch.weights) - length + 1
        )
    assert {len(s) for s in map(reber_string, range(50))} >= {5, 6, 7}
    assert all(REBER_RE.match(reber_string(seed)) for seed in range(50))


def test_erg_strings_follow_the_grammar_and_targets_are_the_legal_next_symbols():
    batch = EmbeddedReber().sample(np.random.default_rng(0), 300)
    seconds = set()
    for b, length in enumerate(batch.seq_lengths):
        string = decode(batch.xs[:, b], length)
        seconds.add(string[1])
        np.testing.assert_array_equal(batch.targets[:length, b], multi_hot(erg_next_sets(string)))
        assert batch.weights[: length - 1, b].all() and not batch.weights[length - 1 :, b].any()
    assert seconds == {"T", "P"}
    for seed in range(50):
        string = embedded_reber_string(seed)
        assert string[1] == string[-2] and REBER_RE.match(string[2:-2]), string


def test_length_statistics_match_the_references():
    rng = np.random.default_rng(0)
    reber = Reber().sample(rng, 20_000).seq_lengths
    erg = EmbeddedReber().sample(rng, 20_000).seq_lengths
    assert reber.min() == 5 and abs(reber.mean() - 8.0) < 0.1
    assert erg.min() == 9 and abs(erg.mean() - 12.0) < 0.1


def test_cerg_streams_are_concatenated_erg_strings_cut_at_length():
    task = ContinualEmbeddedReber(length=25)
    batch, resets = task.stream(np.random.default_rng(5), 4, 300)
    assert batch.xs.shape == (300, 4, 7) and resets.shape == (300, 4) and resets.dtype == bool
    assert batch.weights.tolist() == np.ones((300, 4)).tolist()
    assert batch.seq_lengths.tolist() == [300] * 4
    for b in range(4):
        stream = decode(batch.xs[:, b], 300)
        starts = np.flatnonzero(resets[:, b]).tolist()
        assert starts[0] == 0 and len(starts) > 10
        pieces = [stream[i:j] for i, j in zip(starts, starts[1:] + [300])]
        sets = []
        for piece in pieces:
            sets += erg_next_sets(piece, continual=True)
        for piece in pieces[:-1]:  # complete strings; the last one is cut
            assert piece[-2:] == piece[1] + "E" and REBER_RE.match(piece[2:-2]), piece
        np.testing.assert_array_equal(batch.targets[:, b], multi_hot(sets))
    assert task.sample(np.random.default_rng(0), 2).xs.shape == (25, 2, 7)
    # the stream is the same prefix whatever the cut
    longer, _ = task.stream(np.random.default_rng(5), 4, 400)
    np.testing.assert_array_equal(longer.xs[:300], batch.xs)


def test_cerg_errors_mark_exactly_the_wrong_steps():
    task = ContinualEmbeddedReber(length=60)
    batch = task.sample(np.random.default_rng(6), 3)
    predictions = batch.targets.copy()
    predictions[17, 1, 4] = 0.5  # an error of 0.5 whether the target is 0 or 1
    errors = np.asarray(task.errors(predictions, batch))
    assert errors.shape == (60, 3) and errors.dtype == bool
    assert np.argwhere(errors).tolist() == [[17, 1]]
    assert np.asarray(task.correct(predictions, batch)).tolist() == [True, False, True]
    assert np.asarray(jax.jit(task.errors)(predictions, batch)).tolist() == errors.tolist()


# --- adding -------------------------------------------------------------------------------------


@pytest.mark.parametrize("T", [12, 100])
def test_adding_1997_rules(T):
    batch = Adding(length=T).sample(np.random.default_rng(T), 3000 if T == 12 else 400)
    values, markers = batch.xs[..., 0], batch.xs[..., 1]
    n = T // 2 - 1
    assert batch.seq_lengths.min() == T and batch.seq_lengths.max() == T + T // 10
    first_marked = 0
    for b, length in enumerate(batch.seq_lengths):
        m, v = markers[:length, b], values[:length, b]
        assert set(np.unique(m)) <= {-1.0, 0.0, 1.0}
        marked = np.flatnonzero(m == 1).tolist()
        assert len(marked) == 2
        # some choice of X1 (among the first ten) leaves X2 among the first n unmarked pairs
        assert any(p1 < 10 and p2 - (p1 < p2) < n for p1, p2 in (marked, marked[::-1]))
        assert m[-1] == -1 and (m[0] == -1 or 0 in marked)
        assert np.count_nonzero(m) == 2 + (m[0] == -1) + 1
        assert (np.abs(v) <= 1).all()
        if 0 in marked:
            first_marked += 1
            assert v[0] == 0
        target = 0.5 + (v[marked[0]] + v[marked[1]]) / 4
        assert batch.targets[length - 1, b, 0] == pytest.approx(target, abs=1e-6)
        assert batch.weights[:, b].sum() == 1 and batch.weights[length - 1, b] == 1
        assert np.count_nonzero(batch.targets[:, b]) <= 1
    later = [np.flatnonzero(markers[:, b] == 1).max() for b in range(markers.shape[1])]
    assert max(later) == max(n, 9)  # X2 reaches the last of the first T/2 - 1 unmarked pairs
    assert first_marked > 0


def test_adding_modern_rules():
    T = 30
    batch = Adding(length=T, form="modern").sample(np.random.default_rng(0), 500)
    values, markers = batch.xs[..., 0], batch.xs[..., 1]
    assert batch.xs.shape == (T, 500, 2) and batch.seq_lengths.tolist() == [T] * 500
    assert set(np.unique(markers)) == {0.0, 1.0}
    assert (markers[: T // 2].sum(0) == 1).all() and (markers[T // 2 :].sum(0) == 1).all()
    assert values.min() >= 0 and values.max() <= 1
    assert_close(batch.targets[-1, :, 0], (values * markers).sum(0), "reference")
    assert batch.weights[-1].all() and not batch.weights[:-1].any()


# --- temporal order -----------------------------------------------------------------------------

PAPER_CLASSES = {
    "6a": {"XX": "Q", "XY": "R", "YX": "S", "YY": "U"},
    "6b": {"XXX": "Q", "XXY": "R", "XYX": "S", "XYY": "U",
           "YXX": "V", "YXY": "A", "YYX": "B", "YYY": "C"},
}
PAPER_RANGES = {"6a": [(10, 20), (50, 60)], "6b": [(10, 20), (33, 43), (66, 76)]}


@pytest.mark.parametrize("variant", ["6a", "6b"])
def test_temporal_order_rules(variant):
    from jaxlstm.tasks.temporal_order import CLASSES

    task = TemporalOrder(variant)
    batch = task.sample(np.random.default_rng(0), 400)
    symbols = "EBabcdXY"
    assert batch.seq_lengths.min() == 100 and batch.seq_lengths.max() == 110
    seen, where = set(), []
    for b, length in enumerate(batch.seq_lengths):
        string = "".join(symbols[i] for i in batch.xs[:length, b].argmax(-1))
        assert string[0] == "E" and string[-1] == "B"
        assert set(string[1:-1]) <= set("abcdXY")
        positions = [i for i, s in enumerate(string) if s in "XY"]
        assert len(positions) == len(PAPER_RANGES[variant])
        where.append(positions)
        pattern = "".join(string[p] for p in positions)
        label = PAPER_CLASSES[variant][pattern]
        seen.add(pattern)
        target = batch.targets[length - 1, b]
        assert target.sum() == 1 and CLASSES[variant][int(target.argmax())] == label
        assert batch.weights[:, b].sum() == 1 and batch.weights[length - 1, b] == 1
    assert seen == set(PAPER_CLASSES[variant])
    assert list(zip(np.min(where, axis=0), np.max(where, axis=0))) == PAPER_RANGES[variant]
    assert task.output_size == len(PAPER_CLASSES[variant])


# --- copy ---------------------------------------------------------------------------------------


def test_copy_output_is_the_input_symbols_after_the_delimiter():
    task = Copy(num_symbols=8, length=10, delay=20)
    batch = task.sample(np.random.default_rng(0), 50)
    inputs, outputs = batch.xs.argmax(-1), batch.targets.argmax(-1)
    assert batch.xs.shape == (40, 50, 10) and batch.targets.shape == (40, 50, 9)
    assert ((inputs[:10] >= 1) & (inputs[:10] <= 8)).all()
    assert (inputs[10:29] == 0).all() and (inputs[29] == 9).all() and (inputs[30:] == 0).all()
    assert (outputs[:30] == 0).all()
    np.testing.assert_array_equal(outputs[30:], inputs[:10])
    assert set(np.unique(inputs[:10])) == set(range(1, 9))
    assert batch.weights.all()


# --- text ---------------------------------------------------------------------------------------


def test_text_corpus_vocab_and_round_trip():
    corpus = text()
    assert corpus == "\n".join(topics[k] for k in sorted(topics))
    task = CharText()
    assert task.vocab == "".join(sorted(set(corpus))) and task.input_size == len(task.vocab)
    piece = corpus[1000:3000]
    ids = task.encode(piece)
    assert ids.dtype == np.int32 and task.decode(ids) == piece
    assert task.decode(task.encode(task.vocab)) == task.vocab


def test_text_splits_are_disjoint_and_windows_stay_inside():
    train, valid = CharText(seq_len=8), CharText(seq_len=8, split="valid", holdout=0.1)
    whole = np.concatenate([train.data, valid.data])
    np.testing.assert_array_equal(whole, CharText().encode(text()))
    assert len(valid.data) == round(len(whole) * 0.1)
    train_text, valid_text = train.decode(train.data), valid.decode(valid.data)
    for task, own in ((train, train_text), (valid, valid_text)):
        batch = task.sample(np.random.default_rng(0), 200)
        for b in range(200):
            x = task.decode(batch.xs[:, b].argmax(-1))
            y = task.decode(batch.targets[:, b].argmax(-1))
            assert x[1:] == y[:-1] and x + y[-1] in own


def test_text_windows_cover_the_split_in_order():
    task = CharText(seq_len=1000, split="valid")
    data = task.data
    batches = list(task.windows(7))
    assert all(b.xs.shape[1] == 7 for b in batches) and batches[-1].xs.shape[0] <= 1000
    weights = np.concatenate([b.weights for b in batches])  # (steps, 7)
    xs = np.concatenate([b.xs for b in batches]).argmax(-1)
    ys = np.concatenate([b.targets for b in batches]).argmax(-1)
    mask = weights.T.astype(bool)  # stream by stream, in time order
    np.testing.assert_array_equal(xs.T[mask], data[:-1])
    np.testing.assert_array_equal(ys.T[mask], data[1:])
    assert weights.sum() == len(data) - 1
    assert_batches_equal(batches[0], next(iter(task.windows(7))))
    steps = math.ceil((len(data) - 1) / 7)
    assert sum(b.xs.shape[0] for b in batches) == steps


def test_text_accuracy_and_correct():
    task = CharText(seq_len=20)
    batch = task.sample(np.random.default_rng(0), 3)
    predictions = batch.targets.copy()
    predictions[:5, 1] = np.roll(predictions[:5, 1], 1, axis=-1)
    assert_close(task.accuracy(predictions, batch), [1.0, 0.75, 1.0], "reference")
    assert np.asarray(task.correct(predictions, batch)).tolist() == [True, False, True]
