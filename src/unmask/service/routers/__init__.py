"""The app's routes, one router per area: health and docs, scans, people (and enrolments), web pages."""
