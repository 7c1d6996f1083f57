import subprocess
import sys

import unmask


def test_public_api():
    assert {"scan", "Scanner", "ScanConfig", "Report", "UnmaskError", "InputError"} <= set(unmask.__all__)
    for name in unmask.__all__:
        assert hasattr(unmask, name), name
    errors = [getattr(unmask, n) for n in unmask.__all__
              if isinstance(getattr(unmask, n), type) and issubclass(getattr(unmask, n), Exception)]
    assert len(errors) == 15 and all(issubclass(e, unmask.UnmaskError) for e in errors)


def test_importing_unmask_loads_no_heavy_library():
    code = ("import sys, unmask; "
            "print(sorted(m for m in ('mediapipe', 'dlib', 'sklearn', 'matplotlib') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"


def test_old_enrollment_spelling_still_imports_with_a_warning():
    import pytest

    from unmask import errors

    with pytest.warns(DeprecationWarning, match="EnrolmentError"):
        assert unmask.EnrollmentError is unmask.EnrolmentError
    with pytest.warns(DeprecationWarning, match="EnrolmentError"):
        from unmask.errors import EnrollmentError
    assert EnrollmentError is errors.EnrolmentError
    with pytest.raises(AttributeError):
        _ = errors.NoSuchError  # type: ignore[attr-defined]  # the fallback still says "no such name"
