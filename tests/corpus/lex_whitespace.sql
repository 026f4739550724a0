

	SELECT 1 AS tab_indented;
    SELECT 2 AS space_indented;   

SELECT
	3
	AS
	tabs_inside;
SELECT 4 AS trailing_spaces;   	
  
SELECT 5 AS last;
