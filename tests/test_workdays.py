from datetime import date

from bot.workdays import add_working_days, is_working_day


def test_weekend_skipped():
    assert add_working_days(date(2026, 11, 20), 1) == date(2026, 11, 23)  # Fri -> Mon
    assert add_working_days(date(2026, 11, 23), 5) == date(2026, 11, 30)


def test_tet_2026_skipped():
    # Tết Bính Ngọ: 16-20/2/2026 are public holidays, 14-15 and 21-22 are weekends.
    assert not is_working_day(date(2026, 2, 17))
    assert add_working_days(date(2026, 2, 13), 1) == date(2026, 2, 23)
    assert add_working_days(date(2026, 2, 12), 3) == date(2026, 2, 24)


def test_reunification_labour_and_national_days():
    assert not is_working_day(date(2026, 4, 30)) and not is_working_day(date(2026, 5, 1))
    assert add_working_days(date(2026, 4, 29), 1) == date(2026, 5, 4)
    assert not is_working_day(date(2026, 9, 2))


def test_hung_kings_day():
    assert not is_working_day(date(2026, 4, 27))  # Giỗ Tổ (10/3 âm lịch) falls on Sunday 26/4, observed Monday


def test_zero_days_is_same_day():
    assert add_working_days(date(2026, 11, 22), 0) == date(2026, 11, 22)
