from portal.charts import *  # noqa
from portal.charts import next_month
