"""Reference mode: is this video of the person it claims to show? Enrolment, profiles and the checks."""
