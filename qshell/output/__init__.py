"""Result records -> text, CSV, JSON lines and the HTML report."""
