import type { ClrCommonStrings } from '@clr/angular';

/** German texts for the Clarity components' own strings (aria labels, datagrid, wizard, password toggle). */
export const CLARITY_DE: Partial<ClrCommonStrings> = {
  open: 'Öffnen', close: 'Schließen', show: 'Anzeigen', hide: 'Ausblenden', apply: 'Übernehmen', cancel: 'Abbrechen',
  expand: 'Erweitern', collapse: 'Reduzieren', more: 'Mehr', select: 'Auswählen', selectAll: 'Alle auswählen',
  previous: 'Zurück', next: 'Weiter', current: 'Aktuell', info: 'Info', success: 'Erfolg', warning: 'Warnung',
  danger: 'Fehler', neutral: 'Neutral', unknown: 'Unbekannt', rowActions: 'Verfügbare Aktionen', pickColumns: 'Spalten verwalten',
  showColumns: 'Spalten anzeigen', sortColumn: 'Spalte sortieren', firstPage: 'Erste Seite', lastPage: 'Letzte Seite',
  nextPage: 'Nächste Seite', previousPage: 'Vorherige Seite', currentPage: 'Aktuelle Seite', totalPages: 'Seiten gesamt',
  filterItems: 'Einträge filtern', minValue: 'Mindestwert', maxValue: 'Höchstwert', datagridFilterAriaLabel: 'Spalte {COLUMN} filtern',
  datagridFilterLabel: 'Filter für {COLUMN}', datagridFilterDialogAriaLabel: 'Filterdialog',
  columnSeparatorAriaLabel: 'Spaltenbreite ändern', columnSeparatorDescription: 'Mit Pfeil links/rechts die Spaltenbreite ändern',
  modalContentStart: 'Beginn des Dialoginhalts', modalContentEnd: 'Ende des Dialoginhalts',
  showColumnsMenuDescription: 'Menü zum Ein- und Ausblenden von Spalten', allColumnsSelected: 'Alle Spalten ausgewählt',
  signpostToggle: 'Hinweis umschalten', signpostClose: 'Hinweis schließen', loading: 'Wird geladen',
  singleSelectionAriaLabel: 'Einfachauswahl', singleActionableAriaLabel: 'Einzelaktion', detailExpandableAriaLabel: 'Details umschalten',
  alertCloseButtonAriaLabel: 'Meldung schließen', wizardStep: 'Schritt', wizardStepCurrent: 'Aktuell', wizardStepSuccess: 'Abgeschlossen',
  wizardStepError: 'Fehler', wizardStepnavAriaLabel: 'Assistentenschritte', passwordHide: 'Kennwort ausblenden', passwordShow: 'Kennwort anzeigen',
  selectedRows: 'Ausgewählte Zeilen', stepComplete: 'Schritt {STEP} abgeschlossen', stepError: 'Fehler in Schritt {STEP}',
};
