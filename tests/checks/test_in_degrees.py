"""check_in_degrees: right answers pass, typical wrong ones fail with a specific hint."""
import numpy as np

from checks.checker_helpers import assert_fails, run
from setcourse.checks import check_in_degrees


def test_in_degrees_right_answers_pass(capsys):
    answers = [lambda W: W.getnnz(axis=0),
               lambda W: np.bincount(W.tocoo().col, minlength=W.shape[1]),
               lambda W: np.diff(W.tocsc().indptr)]
    for answer in answers:
        result, out = run(check_in_degrees, answer, capsys)
        assert result is True, out


def test_in_degrees_matrix_from_sum_fails_with_ravel_hint(capsys):
    assert_fails(check_in_degrees, lambda W: (W != 0).sum(axis=0), capsys,
                 "np.asarray(...).ravel()")


def test_in_degrees_summing_weights_fails(capsys):
    assert_fails(check_in_degrees, lambda W: np.asarray(W.sum(axis=0)).ravel(), capsys,
                 "in-degrees are counts")


def test_in_degrees_counting_rows_fails_as_out_degrees(capsys):
    assert_fails(check_in_degrees, lambda W: W.getnnz(axis=1), capsys, "OUT-degrees")


def test_in_degrees_counting_nonzero_values_fails_on_zero_weight(capsys):
    out = assert_fails(check_in_degrees, lambda W: np.asarray((W != 0).sum(axis=0)).ravel(),
                       capsys, "a connection whose weight is exactly 0 is still a connection")
    assert "5 of 6 test cases pass" in out


def test_in_degrees_float_counts_fail(capsys):
    assert_fails(check_in_degrees, lambda W: W.getnnz(axis=0).astype(float), capsys,
                 "the values are right, but return integers")


def test_in_degrees_dense_only_answer_fails_on_coo(capsys):
    # Indexing a COO matrix raises: the exception is shown, not raised.
    assert_fails(check_in_degrees, lambda W: np.array([W[:, j].nnz for j in range(W.shape[1])]),
                 capsys, "the same layer in COO format", "your function raised TypeError")
