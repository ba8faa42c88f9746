"""The review (`gitresearch review`), the only owner of Textual: one file per part.

`app` is the application and its actions; `leaderboard` the experiment list and its
column titles; `screens` one experiment in full, the chart, the pick confirmation and the
help; `chart` the progress chart as text; `messages` what workers post back; `style`
colours and number formats; `review.tcss` the styles. It reads the run only through the
headless core (`runview`, `pick`).
"""
