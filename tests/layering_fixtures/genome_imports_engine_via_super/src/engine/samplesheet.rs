pub enum Sex { Female, Male }
